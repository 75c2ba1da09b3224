// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Toa.Balancer.Configuration;
using Toa.Balancer.Management;
using Toa.Balancer.Metrics;
using Toa.Balancer.Packet;
using Toa.Balancer.Model;
using Toa.Balancer.Relay;

namespace Toa.Balancer;

/// <summary>
/// A running balancer: its listeners, pools, health checks, admin endpoint and metrics, kept
/// in step with the configuration provider. <see cref="RunAsync"/> is the whole of <c>toa lb</c>;
/// <see cref="Start"/> gives the pieces to embedders and tests.
/// </summary>
public sealed partial class BalancerHost : IAsyncDisposable
{
    private readonly BalancerHostOptions _options;
    private readonly HostContext _context;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _applyGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<string, ListenerRuntime> _listeners = new(StringComparer.Ordinal);
    // The packet engine's listeners, under the _listeners lock too.
    private readonly Dictionary<string, PacketListenerRuntime> _packet = new(StringComparer.Ordinal);
    // Serializes handing the engine its listeners; taken before _listeners, never inside it.
    private readonly Lock _packetGate = new();
    // Whether the engine was last handed any listener, under _packetGate.
    private bool _packetRunning;
    // Listening sockets by configured address, under the _listeners lock: a reload that renames
    // listeners or swaps their addresses hands the sockets on, so no port closes for a moment.
    private readonly Dictionary<IPEndPoint, Socket> _sockets = [];
    private readonly ITimer _idleSweep;
    private volatile BalancerConfig _config;
    // The configuration the last apply was handed, under _applyGate: a reload through ReloadAsync
    // applies it at once, and the watch that then wakes for the same snapshot leaves it alone.
    private BalancerConfig _offered;
    private AdminServer? _admin;
    private Task _watch = Task.CompletedTask;
    private Task? _stopped;

    private BalancerHost(BalancerHostOptions options)
    {
        _options = options;
        _logger = options.LoggerFactory.CreateLogger("Toa.Balancer");
        EventLoop[] loops = [.. Enumerable.Range(0, options.RelayThreads > 0 ? options.RelayThreads : Environment.ProcessorCount)
            .Select(i => new EventLoop(i, options.LoggerFactory.CreateLogger("Toa.Balancer.Relay")))];
        _context = new HostContext(
            options.ToaWriter, options.TimeProvider, options.LoggerFactory, options.HealthProbe,
            options.SchedulingPolicies, options.RandomFactory,
            new BalancerMetrics(() => Sample(), options.ToaWriter), new ConnectionTracker(loops),
            options.Splice && Splice.IsSupported ? new PipePool() : null,
            loops,
            new ConnectionLog(options.LoggerFactory.CreateLogger("Toa.Balancer.ConnectionLog")));
        _config = _offered = options.ConfigProvider.Snapshot.Config;
        _idleSweep = options.TimeProvider.CreateTimer(_ => CloseIdle(), null, options.IdleSweepInterval, options.IdleSweepInterval);
    }

    /// <summary>
    /// Runs <c>toa lb</c> on the configuration <paramref name="provider"/> loaded (the caller's, so the
    /// file is read once: what the caller checked is what runs), reloading it when it changes and on
    /// <see cref="ReloadAsync"/>; serves until <paramref name="cancellationToken"/> is cancelled, then
    /// shuts down gracefully within the configured <c>shutdownTimeout</c>. <paramref name="relayThreads"/>:
    /// see <see cref="BalancerHostOptions.RelayThreads"/>; null for its default. <paramref name="started"/>
    /// gets the host once it serves (to reload it on SIGHUP, or to give up privileges).
    /// <paramref name="packetEngine"/> runs the listeners whose engine is "packet" (null: none can run).
    /// </summary>
    /// <exception cref="SocketException">A listener cannot bind.</exception>
    /// <exception cref="IOException">The admin endpoint cannot bind.</exception>
    public static async Task RunAsync(FileConfigProvider provider, IToaWriter toa, CancellationToken cancellationToken, ILoggerFactory? loggerFactory = null,
        int? relayThreads = null, Action<BalancerHost>? started = null, IPacketEngine? packetEngine = null)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var logging = loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
        BalancerHost? running = null;
        // An applied file is counted once the host has applied it (or refused it, see ApplyOffered),
        // and so is an unchanged one that the host had refused (ReloadAsync offers it again).
        provider.Reloaded += (_, outcome) =>
        {
            if (Volatile.Read(ref running) is { } serving
                && (outcome == ReloadOutcome.Refused || outcome == ReloadOutcome.Unchanged && provider.Snapshot.Config.Equals(serving._config)))
                serving._context.Metrics.Reloaded(outcome.ToString().ToLowerInvariant(), outcome == ReloadOutcome.Unchanged, serving._options.TimeProvider);
        };
        // Watched before the host starts: a change made while it binds its listeners and admin
        // endpoint reaches it (Start applies the latest snapshot and follows it from there).
        provider.Watch();
        await using var host = Start(new BalancerHostOptions
        {
            ConfigProvider = provider, ToaWriter = toa, LoggerFactory = logging, RelayThreads = relayThreads ?? 0,
            PacketEngine = packetEngine ?? new NoPacketEngine(),
        });
        Volatile.Write(ref running, host);
        started?.Invoke(host);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await host.StopAsync().ConfigureAwait(false);
    }

    /// <summary>Binds every listener and the admin endpoint, starts health checks, and follows configuration changes.</summary>
    /// <exception cref="SocketException">A listener cannot bind; nothing is left running.</exception>
    /// <exception cref="IOException">The admin endpoint cannot bind or its token file cannot be read; nothing is left running.</exception>
    /// <exception cref="Exception">A listener writes TOA and <see cref="IToaWriter.Prepare"/> failed: its exception.</exception>
    /// <exception cref="Exception">A packet listener cannot run (<see cref="IPacketEngine.Prepare"/> or <see cref="IPacketEngine.Apply"/> failed): its exception.</exception>
    public static BalancerHost Start(BalancerHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var host = new BalancerHost(options);
        try
        {
            var snapshot = options.ConfigProvider.Snapshot;
            host.Apply(snapshot.Config, initial: true, out _);
            host._watch = host.WatchAsync(snapshot);
            return host;
        }
        catch
        {
            host.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    /// <summary>The configuration running now.</summary>
    public BalancerConfig Config => _config;

    /// <summary>Where the admin endpoint listens on TCP, or null when it is off.</summary>
    public IPEndPoint? AdminEndPoint => _admin?.EndPoint;

    /// <summary>The admin endpoint's Unix socket, or null when it is off.</summary>
    public string? AdminSocket => _admin?.SocketPath;

    /// <summary>
    /// Reads the configuration file again and applies it (SIGHUP and the admin's reload). Null
    /// when the configuration does not come from a <see cref="FileConfigProvider"/>.
    /// </summary>
    public async Task<AdminReloadResult?> ReloadAsync()
    {
        if (_options.ConfigProvider is not FileConfigProvider file)
            return null;
        IReadOnlyList<IAsyncDisposable> retired = [];
        string? refused;
        await _applyGate.WaitAsync().ConfigureAwait(false);
        try
        {
            var outcome = file.Reload();
            // Unchanged from the file's last version, which the host may have refused (the TOA writer
            // could not start): then it is offered again, and may be refused again.
            if (outcome == ReloadOutcome.Refused || outcome == ReloadOutcome.Unchanged && file.Snapshot.Config.Equals(_config))
            {
                return new AdminReloadResult(outcome.ToString().ToLowerInvariant(),
                    outcome == ReloadOutcome.Refused ? $"{file.Path} is invalid; the log names every problem" : null);
            }
            (retired, refused) = ApplyOffered(file.Snapshot.Config);
        }
        finally
        {
            _applyGate.Release();
        }
        foreach (var item in retired)
            await item.DisposeAsync().ConfigureAwait(false);
        return refused is null ? new AdminReloadResult("applied") : new AdminReloadResult(AdminReloadResult.Refused, refused);
    }

    /// <summary>The bound address of a listener (its real port when the configuration said 0).</summary>
    /// <exception cref="KeyNotFoundException">No listener has that name.</exception>
    public IPEndPoint GetListenerEndPoint(string name)
    {
        lock (_listeners)
            return _packet.TryGetValue(name, out var packet) ? packet.Settings.EndPoint : _listeners[name].LocalEndPoint;
    }

    /// <summary>Every listener and backend now.</summary>
    public BalancerStatus GetStatus()
    {
        var running = Running();
        var listeners = running.Listeners.OrderBy(l => l.Settings.Name, StringComparer.Ordinal).Select(l => new ListenerStatus(
            l.Settings.Name, l.EndPoint.ToString(), l.Settings.Toa.Name, l.Settings.Scheduler,
            l.Pool.All.Select(b =>
            {
                var (active, total) = running.Connections(b, l.Settings.Packet);
                return new BackendStatusInfo(b.Key, b.Weight, BalancerMetrics.StateLabel(b.Status), b.Health.ToString().ToLowerInvariant(),
                    (int)Math.Min(active, int.MaxValue), total, b.MaxConnections);
            }).ToArray(),
            l.Settings.Engine)).ToArray();
        var packet = running.Listeners.Any(l => l.Settings.Packet)
            ? new PacketStatus(running.Counts.Listeners.Values.Sum(c => c.Active), PacketLimits.Settings(_config.Packet).MaxConnections)
            : null;
        return new BalancerStatus(_context.Connections.Count, _context.Connections.MaxConnections, listeners, packet);
    }

    /// <summary>One listener of either engine, as status and metrics see it.</summary>
    private sealed record RunningListener(ListenerSettings Settings, IPEndPoint EndPoint, BackendPool Pool);

    /// <summary>Every listener now, and what the packet engine counted (nothing when no listener is its).</summary>
    private sealed record RunningListeners(IReadOnlyList<RunningListener> Listeners, PacketCounts Counts)
    {
        /// <summary>
        /// A backend's connections open now and since it joined: the relay's own counts, or for a packet
        /// listener the engine's (which the relay never sees).
        /// </summary>
        public (long Active, long Total) Connections(Backend backend, bool packet) =>
            !packet ? (backend.ActiveConnections, backend.TotalConnections)
            : Counts.Backends.TryGetValue((backend.Listener, backend.EndPoint), out var counted) ? (counted.Active, counted.Connections)
            : (0, 0);
    }

    private RunningListener[] Listeners()
    {
        lock (_listeners)
        {
            return [.. _listeners.Values.Select(l => new RunningListener(l.Settings, l.LocalEndPoint, l.Pool)),
                .. _packet.Values.Select(l => new RunningListener(l.Settings, l.Settings.EndPoint, l.Pool))];
        }
    }

    private RunningListeners Running()
    {
        var listeners = Listeners();
        var counts = listeners.Any(l => l.Settings.Packet) ? _options.PacketEngine.Counts() : s_noCounts;
        return new RunningListeners(listeners, counts);
    }

    private static readonly PacketCounts s_noCounts = new NoPacketEngine().Counts();

    /// <summary>What a scrape reports: every backend's connections, and the packet listeners' counters.</summary>
    private MetricsSample Sample()
    {
        var running = Running();
        return new MetricsSample(
            [.. running.Listeners.SelectMany(l => l.Pool.All.Select(b =>
            {
                var (active, total) = running.Connections(b, l.Settings.Packet);
                return new BackendSample(b, active, total);
            }))],
            [.. running.Listeners.Where(l => l.Settings.Packet && running.Counts.Listeners.ContainsKey(l.Settings.Name))
                .Select(l => (l.Settings.Name, running.Counts.Listeners[l.Settings.Name]))]);
    }

    /// <summary>
    /// Drains, disables or re-enables backends. <paramref name="backend"/> is "ADDRESS" (in every
    /// listener) or "LISTENER/ADDRESS". Disabling resets the backend's established connections.
    /// </summary>
    /// <returns>The matched backends as "listener/address"; empty when none matched.</returns>
    public IReadOnlyList<string> SetAdminState(string backend, BackendAdminState state)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var slash = backend.LastIndexOf('/');
        var listenerName = slash < 0 ? null : backend[..slash];
        if (!Endpoints.TryParse(backend[(slash + 1)..], out var endPoint))
            return [];
        var matched = new List<Backend>();
        foreach (var listener in Listeners())
        {
            if ((listenerName is null || listener.Settings.Name == listenerName) && listener.Pool.Find(endPoint.ToString()) is { } found)
                matched.Add(found);
        }
        foreach (var found in matched)
        {
            if (found.SetAdminState(state))
                LogAdminState(_logger, found.Listener, found.Key, state);
            if (state == BackendAdminState.Disabled)
            {
                _context.Connections.Close(c => c.Backend == found, reset: true);
            }
        }
        return matched.Select(b => b.ToString()).ToArray();
    }

    /// <summary>Writes every metric in Prometheus' text format.</summary>
    public Task WriteMetricsAsync(Stream destination, CancellationToken cancellationToken = default) =>
        _context.Metrics.WriteAsync(destination, cancellationToken);

    private async Task WatchAsync(BalancerConfigSnapshot snapshot)
    {
        var stop = _stopping.Token;
        while (true)
        {
            var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (snapshot.Changed.UnsafeRegister(static s => ((TaskCompletionSource)s!).TrySetResult(), changed))
            using (stop.UnsafeRegister(static s => ((TaskCompletionSource)s!).TrySetResult(), changed))
                await changed.Task.ConfigureAwait(false);
            if (stop.IsCancellationRequested)
                return;
            snapshot = _options.ConfigProvider.Snapshot;
            await ApplyAsync(snapshot.Config).ConfigureAwait(false);
        }
    }

    /// <summary>Applies a configuration the provider handed out (tests call it to reload without a file).</summary>
    internal async Task ApplyAsync(BalancerConfig config)
    {
        IReadOnlyList<IAsyncDisposable> retired;
        await _applyGate.WaitAsync().ConfigureAwait(false);
        try
        {
            retired = ReferenceEquals(config, _offered) ? [] : ApplyOffered(config).Retired;
        }
        finally
        {
            _applyGate.Release();
        }
        foreach (var item in retired)
            await item.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>A reload's apply, under the gate: counted as applied, or refused with the reason.</summary>
    private (List<IAsyncDisposable> Retired, string? Refused) ApplyOffered(BalancerConfig config)
    {
        _offered = config;
        var retired = Apply(config, initial: false, out var refused);
        _context.Metrics.Reloaded(refused is null ? "applied" : "refused", refused is null, _options.TimeProvider);
        return (retired, refused);
    }

    /// <summary>
    /// Brings listeners, pools, limits and the admin endpoint to <paramref name="config"/>. A listener
    /// keeps its connections while its name and address stay; a listening socket stays while any
    /// listener has its address. Returns what to dispose (removed listeners' pools, removed
    /// backends' checkers, sockets no listener has) once the swap is done. A reload in which a
    /// listener writes TOA while the writer cannot start changes nothing (<paramref name="refused"/> says why).
    /// </summary>
    private List<IAsyncDisposable> Apply(BalancerConfig config, bool initial, out string? refused)
    {
        refused = null;
        var retired = new List<IAsyncDisposable>();
        var wanted = (config.Listeners ?? []).Select(l => ListenerSettings.From(l, config.Log)).ToDictionary(l => l.Name, StringComparer.Ordinal);
        // Packet listeners' TOA is the engine's to write.
        if (wanted.Values.FirstOrDefault(l => l.Toa.Enabled && !l.Packet) is { } writing)
        {
            try
            {
                _context.Toa.Prepare(config.ToaConnections ?? ConfigDefaults.ToaConnections);
            }
            catch (Exception e) when (!initial && e is not OutOfMemoryException)
            {
                // Relaying without the option would silently hand backends the balancer's address.
                LogToaWriterUnavailable(_logger, e, writing.Name);
                refused = $"listener {writing.Name} writes TOA but the TOA writer cannot start: {e.Message}";
                return retired;
            }
        }
        if (wanted.Values.FirstOrDefault(l => l.Packet) is { } packet)
        {
            try
            {
                _options.PacketEngine.Prepare(PacketLimits.Settings(config.Packet));
            }
            catch (Exception e) when (!initial && e is not OutOfMemoryException)
            {
                LogPacketEngineUnavailable(_logger, e, packet.Name);
                refused = $"listener {packet.Name} uses the packet engine but it cannot start: {e.Message}";
                return retired;
            }
        }
        // Measured at each apply, before this one's sockets: what relayed connections hold is added back.
        _context.Connections.MaxConnections = config.MaxConnections
            ?? ConnectionLimits.DefaultMaxConnections(ConnectionLimits.DescriptorLimit(), ConnectionLimits.DescriptorsInUse() - 2L * _context.Connections.Count);
        _context.Connections.MaxConnectionsPerSource = config.MaxConnectionsPerSource ?? 0;
        var startedPacket = new List<PacketListenerRuntime>();
        lock (_listeners)
        {
            var stopping = new List<Task>();
            foreach (var (name, listener) in _listeners.ToArray())
            {
                if (wanted.TryGetValue(name, out var settings) && !settings.Packet && settings.EndPoint.Equals(listener.Settings.EndPoint))
                    continue;
                _listeners.Remove(name);
                // Posted now, so each loop stops watching the socket before a listener started below watches it.
                stopping.Add(listener.StopAcceptingAsync());
                retired.Add(listener);
                // Gone, or moved to the packet engine, whose pool starts afresh.
                if (!wanted.TryGetValue(name, out var next) || next.Packet)
                {
                    foreach (var backend in listener.Pool.All)
                        _context.Metrics.Forget(backend);
                }
                LogListenerStopped(_logger, name, listener.LocalEndPoint);
            }
            foreach (var (name, runtime) in _packet.ToArray())
            {
                if (wanted.TryGetValue(name, out var settings) && settings.Packet)
                    continue;
                _packet.Remove(name);
                retired.Add(runtime);
                foreach (var backend in runtime.Pool.All)
                    _context.Metrics.Forget(backend);
                LogPacketListenerStopped(_logger, name, runtime.Settings.EndPoint);
            }
            foreach (var (name, settings) in wanted)
            {
                if (!settings.Packet)
                    continue;
                if (_packet.TryGetValue(name, out var runtime))
                {
                    retired.AddRange(runtime.Apply(settings));
                    continue;
                }
                _packet[name] = new PacketListenerRuntime(settings, _context, OnPacketPoolChanged);
                startedPacket.Add(_packet[name]);
            }
            foreach (var (name, settings) in wanted)
            {
                if (settings.Packet)
                    continue;
                if (_listeners.TryGetValue(name, out var listener))
                {
                    retired.AddRange(listener.Apply(settings));
                    continue;
                }
                if (!_sockets.TryGetValue(settings.EndPoint, out var socket))
                {
                    try
                    {
                        socket = ListenSockets.ListenForRelay(settings.EndPoint);
                    }
                    catch (SocketException e) when (!initial)
                    {
                        LogListenerBindFailed(_logger, e, name, settings.EndPoint);
                        continue;
                    }
                    _sockets[settings.EndPoint] = socket;
                }
                listener = new ListenerRuntime(settings, socket, _context);
                _listeners[name] = listener;
                listener.Start();
                LogListenerStarted(_logger, name, listener.LocalEndPoint);
            }
            var stopped = Task.WhenAll(stopping);
            foreach (var (endPoint, socket) in _sockets.ToArray())
            {
                if (wanted.Values.Any(l => !l.Packet && l.EndPoint.Equals(endPoint)))
                    continue;
                _sockets.Remove(endPoint);
                retired.Add(new RetiredSocket(stopped, socket));
            }
        }
        _config = config;
        if (ApplyPacket(initial))
        {
            // Said once the engine runs them: from here their clients are served.
            foreach (var runtime in startedPacket)
                LogPacketListenerStarted(_logger, runtime.Name, runtime.Settings.EndPoint);
        }
        ApplyAdmin(AdminSettings.From(config), initial);
        return retired;
    }

    /// <summary>
    /// Hands the engine the whole set of packet listeners as they should run now; the one place that
    /// does, after a configuration is applied and whenever a packet pool's available backends change.
    /// A failure is the first configuration's to throw; later ones are logged (the engine keeps what it ran).
    /// </summary>
    /// <returns>False when the engine refused them.</returns>
    private bool ApplyPacket(bool initial)
    {
        lock (_packetGate)
        {
            // Once stopping, the engine is about to be disposed: a health check's change must not reach it.
            if (_stopping.IsCancellationRequested)
                return false;
            PacketListenerRuntime[] runtimes;
            lock (_listeners)
                runtimes = [.. _packet.Values.OrderBy(l => l.Name, StringComparer.Ordinal)];
            if (runtimes.Length == 0 && !_packetRunning)
                return true;
            var listeners = runtimes.Select(l => l.Desired()).ToArray();
            try
            {
                _options.PacketEngine.Apply(listeners);
                _packetRunning = listeners.Length > 0;
                return true;
            }
            catch (Exception e) when (!initial && e is not OutOfMemoryException)
            {
                LogPacketApplyFailed(_logger, e, string.Join(", ", listeners.Select(l => l.Name)));
                return false;
            }
        }
    }

    /// <summary>
    /// A packet pool's available backends changed, maybe inside a pool's or a checker's lock: the
    /// engine hears of it from the thread pool. Each hand-over reads the state of its moment, so the last is the latest.
    /// </summary>
    private void OnPacketPoolChanged() =>
        ThreadPool.UnsafeQueueUserWorkItem(static host => _ = host.ApplyPacket(initial: false), this, preferLocal: false);

    /// <summary>A listening socket no listener has any more, closed once no loop watches it.</summary>
    private sealed class RetiredSocket(Task unwatched, Socket socket) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await unwatched.ConfigureAwait(false);
            socket.Dispose();
        }
    }

    /// <summary>Restarts the admin endpoint when its settings changed.</summary>
    private void ApplyAdmin(AdminSettings settings, bool initial)
    {
        if (_admin is not null && _admin.Settings == settings)
            return;
        var old = _admin;
        _admin = null;
        // The old endpoint goes first: the new one may want its address or socket.
        old?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (settings.Address.Length == 0 && settings.Socket.Length == 0)
            return;
        try
        {
            _admin = AdminServer.Start(settings, this, _options.LoggerFactory);
        }
        catch (IOException e) when (!initial)
        {
            LogAdminBindFailed(_logger, e, settings.Address, settings.Socket);
        }
    }

    private void CloseIdle() => _context.Connections.Close(static c => c.IsIdle, reset: false);

    /// <summary>
    /// Stops accepting, waits up to <c>shutdownTimeout</c> for established connections to end,
    /// resets those left, and stops health checks and the admin endpoint.
    /// </summary>
    public Task StopAsync()
    {
        lock (_listeners)
            return _stopped ??= StopCoreAsync();
    }

    private async Task StopCoreAsync()
    {
        _stopping.Cancel();
        await _watch.ConfigureAwait(false);
        await _applyGate.WaitAsync().ConfigureAwait(false);
        ListenerRuntime[] listeners;
        PacketListenerRuntime[] packet;
        Socket[] sockets;
        lock (_listeners)
        {
            listeners = [.. _listeners.Values];
            _listeners.Clear();
            packet = [.. _packet.Values];
            _packet.Clear();
            sockets = [.. _sockets.Values];
            _sockets.Clear();
        }
        foreach (var listener in listeners)
            await listener.StopAcceptingAsync().ConfigureAwait(false);
        foreach (var socket in sockets)
            socket.Dispose();

        var empty = _context.Connections.WhenEmptyAsync();
        var deadline = _config.ShutdownTimeout ?? ConfigDefaults.ShutdownTimeout;
        using var cancelDelay = new CancellationTokenSource();
        if (await Task.WhenAny(empty, Task.Delay(deadline, _options.TimeProvider, cancelDelay.Token)).ConfigureAwait(false) != empty)
        {
            LogShutdownResetting(_logger, _context.Connections.Count, deadline);
            _context.Connections.Close(static _ => true, reset: true);
            await empty.ConfigureAwait(false);
        }
        cancelDelay.Cancel();
        await _idleSweep.DisposeAsync().ConfigureAwait(false);
        foreach (var listener in listeners)
            await listener.DisposeAsync().ConfigureAwait(false);
        foreach (var listener in packet)
            await listener.DisposeAsync().ConfigureAwait(false);
        // The engine goes last, with no hand-over under way, and is handed no empty set first: what
        // becomes of its connections when the process ends is the engine's to decide.
        lock (_packetGate)
            _packetRunning = false;
        await _options.PacketEngine.DisposeAsync().ConfigureAwait(false);
        if (_admin is not null)
            await _admin.DisposeAsync().ConfigureAwait(false);
        _admin = null;
        foreach (var loop in _context.Loops)
            loop.Dispose();
        _context.Pipes?.Dispose();
        await _context.Log.DisposeAsync().ConfigureAwait(false); // after the loops: every connection's line is queued
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    [LoggerMessage(EventId = 500, EventName = "ListenerStarted", Level = LogLevel.Information, Message = "Listener {Listener} accepting on {Address}")]
    private static partial void LogListenerStarted(ILogger logger, string listener, IPEndPoint address);

    [LoggerMessage(EventId = 501, EventName = "ListenerStopped", Level = LogLevel.Information,
        Message = "Listener {Listener} on {Address} stopped accepting; its established connections go on")]
    private static partial void LogListenerStopped(ILogger logger, string listener, IPEndPoint address);

    [LoggerMessage(EventId = 502, EventName = "ListenerBindFailed", Level = LogLevel.Error,
        Message = "Listener {Listener} cannot listen on {Address}; the rest of the new configuration is running")]
    private static partial void LogListenerBindFailed(ILogger logger, Exception exception, string listener, IPEndPoint address);

    [LoggerMessage(EventId = 503, EventName = "AdminBindFailed", Level = LogLevel.Error, Message = "The admin endpoint cannot listen on {Address} or {Socket}")]
    private static partial void LogAdminBindFailed(ILogger logger, Exception exception, string address, string socket);

    [LoggerMessage(EventId = 504, EventName = "ShutdownResetting", Level = LogLevel.Warning,
        Message = "Shutdown: resetting {Count} connections still open after {Deadline}")]
    private static partial void LogShutdownResetting(ILogger logger, int count, TimeSpan deadline);

    [LoggerMessage(EventId = 505, EventName = "BackendAdminState", Level = LogLevel.Information, Message = "Backend {Listener}/{Backend} is now {State}")]
    private static partial void LogAdminState(ILogger logger, string listener, string backend, BackendAdminState state);

    [LoggerMessage(EventId = 507, EventName = "PacketEngineUnavailable", Level = LogLevel.Error,
        Message = "Reload refused: listener {Listener} uses the packet engine but it cannot start; the running configuration stays")]
    private static partial void LogPacketEngineUnavailable(ILogger logger, Exception exception, string listener);

    [LoggerMessage(EventId = 508, EventName = "PacketApplyFailed", Level = LogLevel.Error,
        Message = "The packet engine refused the packet listeners {Listeners}; it runs what it ran before, the rest of the configuration is running")]
    private static partial void LogPacketApplyFailed(ILogger logger, Exception exception, string listeners);

    [LoggerMessage(EventId = 509, EventName = "PacketListenerStarted", Level = LogLevel.Information, Message = "Listener {Listener} on {Address} runs in the packet engine")]
    private static partial void LogPacketListenerStarted(ILogger logger, string listener, IPEndPoint address);

    [LoggerMessage(EventId = 510, EventName = "PacketListenerStopped", Level = LogLevel.Information,
        Message = "Listener {Listener} on {Address} left the packet engine; its established connections go on")]
    private static partial void LogPacketListenerStopped(ILogger logger, string listener, IPEndPoint address);

    [LoggerMessage(EventId = 506, EventName = "ToaWriterUnavailable", Level = LogLevel.Error,
        Message = "Reload refused: listener {Listener} writes TOA but the TOA writer cannot start; the running configuration stays")]
    private static partial void LogToaWriterUnavailable(ILogger logger, Exception exception, string listener);
}
