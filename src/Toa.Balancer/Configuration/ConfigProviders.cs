// SPDX-License-Identifier: MIT
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toa.Balancer.Scheduling;

namespace Toa.Balancer.Configuration;

/// <summary>An immutable configuration and a token cancelled when a newer one replaces it.</summary>
public sealed class BalancerConfigSnapshot
{
    internal BalancerConfigSnapshot(BalancerConfig config, CancellationToken changed)
    {
        Config = config;
        Changed = changed;
    }

    /// <summary>The validated configuration.</summary>
    public BalancerConfig Config { get; }

    /// <summary>Cancelled when a newer snapshot is available from the provider.</summary>
    public CancellationToken Changed { get; }
}

/// <summary>Hands out the current configuration; only valid configurations are ever handed out.</summary>
public interface IBalancerConfigProvider
{
    /// <summary>The current snapshot.</summary>
    BalancerConfigSnapshot Snapshot { get; }
}

/// <summary>What a reload did.</summary>
public enum ReloadOutcome
{
    /// <summary>A new configuration replaced the running one.</summary>
    Applied,
    /// <summary>The file holds the configuration already running.</summary>
    Unchanged,
    /// <summary>The file is invalid; the running configuration stays.</summary>
    Refused,
}

/// <summary>Swaps snapshots atomically; the base of both providers.</summary>
public abstract class SnapshotProvider : IBalancerConfigProvider
{
    private readonly Lock _gate = new();
    private BalancerConfigSnapshot _snapshot;
    private CancellationTokenSource _changed = new();

    private protected SnapshotProvider(BalancerConfig initial)
    {
        _snapshot = new BalancerConfigSnapshot(initial, _changed.Token);
    }

    /// <inheritdoc />
    public BalancerConfigSnapshot Snapshot => Volatile.Read(ref _snapshot);

    /// <summary>Publishes <paramref name="config"/> unless it equals the current one; true when published.</summary>
    private protected bool Publish(BalancerConfig config)
    {
        CancellationTokenSource old;
        lock (_gate)
        {
            if (_snapshot.Config.Equals(config))
                return false;
            old = _changed;
            _changed = new CancellationTokenSource();
            Volatile.Write(ref _snapshot, new BalancerConfigSnapshot(config, _changed.Token));
        }
        old.Cancel();
        old.Dispose();
        return true;
    }
}

/// <summary>A configuration held in memory, for embedding and tests. Updates are validated first.</summary>
public sealed class InMemoryConfigProvider : SnapshotProvider
{
    private readonly ISchedulingPolicy[]? _policies;

    /// <summary>Validates and holds <paramref name="config"/>.</summary>
    /// <exception cref="BalancerConfigException">The configuration is invalid.</exception>
    public InMemoryConfigProvider(BalancerConfig config, IEnumerable<ISchedulingPolicy>? policies = null)
        : base(Validated(config, policies?.ToArray()))
    {
        _policies = policies?.ToArray();
    }

    /// <summary>Replaces the configuration; throws, keeping the current one, when it is invalid.</summary>
    /// <exception cref="BalancerConfigException">The configuration is invalid.</exception>
    public bool Update(BalancerConfig config) => Publish(Validated(config, _policies));

    private static BalancerConfig Validated(BalancerConfig config, ISchedulingPolicy[]? policies)
    {
        BalancerConfigLoader.Validate(config, "memory", policies);
        return config;
    }
}

/// <summary>
/// A configuration file, reloaded when it changes on disk (after a short quiet period, since
/// editors write in several steps) or on <see cref="Reload"/> (SIGHUP, the admin's reload). A bad first load throws;
/// a bad reload is logged and the running configuration stays.
/// </summary>
public sealed partial class FileConfigProvider : SnapshotProvider, IDisposable
{
    private static readonly TimeSpan s_quietPeriod = TimeSpan.FromMilliseconds(250);

    private readonly ISchedulingPolicy[]? _policies;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _reloadGate = new();
    private FileSystemWatcher? _watcher;
    private ITimer? _debounce;

    /// <summary>Loads <paramref name="path"/>.</summary>
    /// <exception cref="BalancerConfigException">The file is missing, does not parse or is invalid.</exception>
    public FileConfigProvider(string path, ILogger? logger = null, IEnumerable<ISchedulingPolicy>? policies = null, TimeProvider? time = null)
        : base(BalancerConfigLoader.Load(path, policies?.ToArray()))
    {
        Path = System.IO.Path.GetFullPath(path);
        _policies = policies?.ToArray();
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The file's full path.</summary>
    public string Path { get; }

    /// <summary>Raised after every reload attempt.</summary>
    public event EventHandler<ReloadOutcome>? Reloaded;

    /// <summary>Reads the file again now.</summary>
    public ReloadOutcome Reload()
    {
        ReloadOutcome outcome;
        lock (_reloadGate)
        {
            try
            {
                var config = BalancerConfigLoader.Load(Path, _policies);
                outcome = Publish(config) ? ReloadOutcome.Applied : ReloadOutcome.Unchanged;
                if (outcome == ReloadOutcome.Applied)
                    LogReloaded(_logger, Path);
            }
            catch (BalancerConfigException e)
            {
                outcome = ReloadOutcome.Refused;
                LogReloadRefused(_logger, Path, e.Message);
            }
        }
        Reloaded?.Invoke(this, outcome);
        return outcome;
    }

    /// <summary>Starts reloading on file changes. Calling it again does nothing.</summary>
    public void Watch()
    {
        if (_watcher is not null)
            return;
        _debounce = _time.CreateTimer(_ => Reload(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _watcher = new FileSystemWatcher(System.IO.Path.GetDirectoryName(Path)!, System.IO.Path.GetFileName(Path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size,
        };
        _watcher.Changed += OnFileEvent;
        _watcher.Created += OnFileEvent;
        _watcher.Renamed += OnFileEvent;
        _watcher.EnableRaisingEvents = true;
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e) =>
        _debounce?.Change(s_quietPeriod, Timeout.InfiniteTimeSpan);

    /// <inheritdoc />
    public void Dispose()
    {
        _watcher?.Dispose();
        _debounce?.Dispose();
    }

    [LoggerMessage(EventId = 100, EventName = "ConfigReloaded", Level = LogLevel.Information, Message = "Reloaded {Path}")]
    private static partial void LogReloaded(ILogger logger, string path);

    [LoggerMessage(EventId = 101, EventName = "ConfigReloadRefused", Level = LogLevel.Error,
        Message = "Refused the new configuration in {Path}; the running configuration stays: {Problems}")]
    private static partial void LogReloadRefused(ILogger logger, string path, string problems);
}
