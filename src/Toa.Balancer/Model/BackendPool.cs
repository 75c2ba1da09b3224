// SPDX-License-Identifier: MIT
using Microsoft.Extensions.Logging;
using Toa.Balancer.Configuration;
using Toa.Balancer.Health;
using Toa.Balancer.Metrics;

namespace Toa.Balancer.Model;

/// <summary>
/// One listener's backends with their health checkers, and the set of those that may take new
/// connections, rebuilt whenever a backend's state or weight changes.
/// </summary>
internal sealed class BackendPool : IAsyncDisposable
{
    private readonly string _listener;
    private readonly IHealthProbe _probe;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly BalancerMetrics _metrics;
    // Monitor, not Lock: Apply changes weights, whose change events rebuild the set under the same lock.
    private readonly object _gate = new();
    private volatile Dictionary<string, Entry> _entries = [];
    private volatile Backend[] _all = [];
    private volatile BackendSet _available = BackendSet.Empty;

    private sealed record Entry(Backend Backend, BackendHealthChecker Checker);

    public BackendPool(string listener, IHealthProbe probe, TimeProvider time, ILogger logger, BalancerMetrics metrics)
    {
        _listener = listener;
        _probe = probe;
        _time = time;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>The backends that may take new connections now.</summary>
    public BackendSet Available => _available;

    /// <summary>Every backend, in configuration order.</summary>
    public IReadOnlyList<Backend> All => _all;

    /// <summary>Every backend and those that may take new connections, as of one moment.</summary>
    public (Backend[] All, BackendSet Available) Snapshot()
    {
        lock (_gate)
            return (_all, _available);
    }

    /// <summary>
    /// Raised after a backend's health, admin state or weight changed the set of <see cref="Available"/>
    /// backends, on the thread that changed it (possibly inside <see cref="Apply"/>).
    /// </summary>
    public event Action? AvailableChanged;

    /// <summary>
    /// Brings the pool to <paramref name="settings"/>: backends that stay keep their state and
    /// connections; new ones start healthy; removed ones are returned for the caller to dispose
    /// (their established connections keep their <see cref="Backend"/> to the end).
    /// </summary>
    public IReadOnlyList<IAsyncDisposable> Apply(ListenerSettings settings)
    {
        var removed = new List<IAsyncDisposable>();
        lock (_gate)
        {
            var old = _entries;
            var next = new Dictionary<string, Entry>(StringComparer.Ordinal);
            var order = new List<Backend>();
            foreach (var config in settings.Backends)
            {
                var source = settings.SnatFor(config.EndPoint.AddressFamily);
                var key = config.EndPoint.ToString();
                if (old.TryGetValue(key, out var entry))
                {
                    entry.Backend.Reconfigure(config.Weight, config.MaxConnections);
                    entry.Checker.Update(settings.Health, source);
                }
                else
                {
                    var backend = new Backend(_listener, config.EndPoint, config.Weight, config.MaxConnections);
                    entry = new Entry(backend, new BackendHealthChecker(backend, settings.Health, source, _probe, _time, _logger));
                    backend.StateChanged += OnStateChanged;
                    entry.Checker.Start();
                }
                next[key] = entry;
                order.Add(entry.Backend);
            }
            foreach (var (key, entry) in old)
            {
                if (next.ContainsKey(key))
                    continue;
                entry.Backend.StateChanged -= OnStateChanged;
                _metrics.Forget(entry.Backend);
                removed.Add(entry.Checker);
            }
            _entries = next;
            _all = order.ToArray();
            Rebuild();
        }
        return removed;
    }

    /// <summary>The backend with this key ("10.0.0.1:80"), if it is in the pool.</summary>
    public Backend? Find(string key) => _entries.TryGetValue(key, out var entry) ? entry.Backend : null;

    /// <summary>Passive health: the outcome of a client connect to <paramref name="backend"/>.</summary>
    public void RecordConnect(Backend backend, bool ok)
    {
        if (_entries.TryGetValue(backend.Key, out var entry) && entry.Backend == backend)
            entry.Checker.RecordConnect(ok);
    }

    private void OnStateChanged(Backend backend)
    {
        lock (_gate)
            Rebuild();
        AvailableChanged?.Invoke();
    }

    private void Rebuild() => _available = new BackendSet(_all.Where(b => b.IsAvailable));

    public async ValueTask DisposeAsync()
    {
        Entry[] entries;
        lock (_gate)
        {
            entries = [.. _entries.Values];
            _entries = [];
        }
        foreach (var entry in entries)
            await entry.Checker.DisposeAsync().ConfigureAwait(false);
    }
}
