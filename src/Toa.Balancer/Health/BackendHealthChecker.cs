// SPDX-License-Identifier: MIT
using System.Net;
using Microsoft.Extensions.Logging;
using Toa.Balancer.Configuration;
using Toa.Balancer.Model;

namespace Toa.Balancer.Health;

/// <summary>
/// Health of one backend: active checks every interval (rise/fall) and passive ejection after
/// consecutive failed client connects. Disabled backends are not checked. The check is the host's
/// probe (a TCP connect), or the listener's HTTP check when it has one.
/// </summary>
internal sealed partial class BackendHealthChecker : IAsyncDisposable
{
    private readonly Backend _backend;
    private readonly IHealthProbe _probe;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private volatile HealthSettings _settings;
    private volatile IPAddress? _source;
    private PeriodicTimer? _timer;
    private Task _loop = Task.CompletedTask;
    private int _successes;
    private int _failures;
    private int _connectFailures;
    private int _checks;

    public BackendHealthChecker(Backend backend, HealthSettings settings, IPAddress? source, IHealthProbe probe, TimeProvider time, ILogger logger)
    {
        _backend = backend;
        _settings = settings;
        _source = source;
        _probe = probe;
        _time = time;
        _logger = logger;
    }

    /// <summary>Active checks completed (tests wait on it).</summary>
    public int Checks => Volatile.Read(ref _checks);

    public void Start()
    {
        _timer = new PeriodicTimer(_settings.Interval, _time);
        _loop = RunAsync(_timer, _stop.Token);
    }

    /// <summary>Takes a reloaded listener's settings; counters carry on.</summary>
    public void Update(HealthSettings settings, IPAddress? source)
    {
        _settings = settings;
        _source = source;
        if (_timer is { } timer && timer.Period != settings.Interval)
            timer.Period = settings.Interval;
    }

    private async Task RunAsync(PeriodicTimer timer, CancellationToken stop)
    {
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                if (_backend.AdminState == BackendAdminState.Disabled)
                    continue;
                RecordCheck(await CheckAsync(stop).ConfigureAwait(false));
                Interlocked.Increment(ref _checks);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task<bool> CheckAsync(CancellationToken stop)
    {
        using var timeout = new CancellationTokenSource(_settings.Timeout, _time);
        using var link = stop.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeout);
        try
        {
            var probe = _settings.Http ?? _probe;
            return await probe.ProbeAsync(_backend.EndPoint, _source, _settings.ProxyHeader, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>The outcome of one active check.</summary>
    public void RecordCheck(bool ok)
    {
        lock (_gate)
        {
            var settings = _settings;
            if (ok)
            {
                _failures = 0;
                if (++_successes >= settings.Rise && _backend.Health == BackendHealth.Unhealthy)
                {
                    _connectFailures = 0;
                    _backend.SetHealth(BackendHealth.Healthy);
                    LogUp(_logger, _backend.Listener, _backend.Key, _successes);
                }
            }
            else
            {
                _successes = 0;
                if (++_failures >= settings.Fall && _backend.SetHealth(BackendHealth.Unhealthy))
                    LogDown(_logger, _backend.Listener, _backend.Key, _failures);
            }
        }
    }

    /// <summary>The outcome of one client connect: passive ejection.</summary>
    public void RecordConnect(bool ok)
    {
        lock (_gate)
        {
            if (ok)
            {
                _connectFailures = 0;
                return;
            }
            var ejectAfter = _settings.EjectAfter;
            if (ejectAfter > 0 && ++_connectFailures >= ejectAfter && _backend.SetHealth(BackendHealth.Unhealthy))
            {
                // Coming back takes `rise` good active checks from here.
                _successes = 0;
                LogEjected(_logger, _backend.Listener, _backend.Key, _connectFailures);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        _timer?.Dispose();
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 200, EventName = "BackendUp", Level = LogLevel.Information,
        Message = "Backend {Listener}/{Backend} is healthy again after {Checks} good checks")]
    private static partial void LogUp(ILogger logger, string listener, string backend, int checks);

    [LoggerMessage(EventId = 201, EventName = "BackendDown", Level = LogLevel.Warning,
        Message = "Backend {Listener}/{Backend} is unhealthy after {Checks} failed checks")]
    private static partial void LogDown(ILogger logger, string listener, string backend, int checks);

    [LoggerMessage(EventId = 202, EventName = "BackendEjected", Level = LogLevel.Warning,
        Message = "Backend {Listener}/{Backend} ejected after {Failures} failed connects in a row")]
    private static partial void LogEjected(ILogger logger, string listener, string backend, int failures);
}
