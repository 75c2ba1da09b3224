// SPDX-License-Identifier: MIT
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Toa.Balancer.Configuration;
using Toa.Balancer.Health;
using Toa.Balancer.Model;

namespace Toa.Balancer.Tests.Health;

public class BackendHealthCheckerTests
{
    private static readonly HealthSettings s_settings = new(
        Interval: TimeSpan.FromSeconds(2), Timeout: TimeSpan.FromSeconds(1), Rise: 2, Fall: 3, EjectAfter: 3);

    /// <summary>A probe whose answer the test sets; it can also hang until cancelled (a timeout).</summary>
    private sealed class ScriptedProbe : IHealthProbe
    {
        public volatile bool Up = true;
        public volatile bool Hang;
        public int Calls;

        public async ValueTask<bool> ProbeAsync(IPEndPoint backend, IPAddress? source, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            if (Hang)
                await Task.Delay(Timeout.Infinite, cancellationToken);
            return Up;
        }
    }

    private static BackendHealthChecker Checker(Backend backend, IHealthProbe? probe = null, TimeProvider? time = null, HealthSettings? settings = null) =>
        new(backend, settings ?? s_settings, null, probe ?? new ScriptedProbe(), time ?? TimeProvider.System, NullLogger.Instance);

    /// <summary>Moves fake time one interval and waits for the check it triggers to finish.</summary>
    private static async Task Tick(FakeTimeProvider time, BackendHealthChecker checker, TimeSpan? by = null)
    {
        var before = checker.Checks;
        time.Advance(by ?? s_settings.Interval);
        await Eventually.True(() => checker.Checks > before, "the check has run");
    }

    [Fact]
    public async Task RecordCheck_FallFailuresInARow_Unhealthy()
    {
        var backend = TestBackends.Make(1);
        await using var checker = Checker(backend);
        checker.RecordCheck(false);
        checker.RecordCheck(false);
        Assert.Equal(BackendHealth.Healthy, backend.Health);
        checker.RecordCheck(false);
        Assert.Equal(BackendHealth.Unhealthy, backend.Health);
    }

    [Fact]
    public async Task RecordCheck_SuccessBetweenFailures_StartsCountingAgain()
    {
        var backend = TestBackends.Make(1);
        await using var checker = Checker(backend);
        foreach (var ok in new[] { false, false, true, false, false })
            checker.RecordCheck(ok);
        Assert.Equal(BackendHealth.Healthy, backend.Health);
    }

    [Fact]
    public async Task RecordCheck_RiseSuccessesAfterDown_HealthyAgain()
    {
        var backend = TestBackends.Make(1);
        await using var checker = Checker(backend);
        for (var i = 0; i < 3; i++)
            checker.RecordCheck(false);
        checker.RecordCheck(true);
        Assert.Equal(BackendHealth.Unhealthy, backend.Health);
        checker.RecordCheck(true);
        Assert.Equal(BackendHealth.Healthy, backend.Health);
    }

    [Fact]
    public async Task RecordConnect_EjectAfterFailuresInARow_Unhealthy()
    {
        var backend = TestBackends.Make(1);
        await using var checker = Checker(backend);
        checker.RecordConnect(false);
        checker.RecordConnect(false);
        checker.RecordConnect(true);
        checker.RecordConnect(false);
        checker.RecordConnect(false);
        Assert.Equal(BackendHealth.Healthy, backend.Health);
        checker.RecordConnect(false);
        Assert.Equal(BackendHealth.Unhealthy, backend.Health);
    }

    [Fact]
    public async Task RecordConnect_EjectAfterZero_NeverEjects()
    {
        var backend = TestBackends.Make(1);
        await using var checker = Checker(backend, settings: s_settings with { EjectAfter = 0 });
        for (var i = 0; i < 100; i++)
            checker.RecordConnect(false);
        Assert.Equal(BackendHealth.Healthy, backend.Health);
    }

    [Fact]
    public async Task Run_BackendDies_UnhealthyAtTheFallthCheckAndBackAfterRise()
    {
        var time = new FakeTimeProvider();
        var probe = new ScriptedProbe();
        var backend = TestBackends.Make(1);
        await using var checker = Checker(backend, probe, time);
        checker.Start();

        await Tick(time, checker);
        probe.Up = false;
        // Ejected within interval × fall: healthy after fall - 1 failed checks, unhealthy at the fall-th.
        for (var i = 1; i < s_settings.Fall; i++)
        {
            await Tick(time, checker);
            Assert.Equal(BackendHealth.Healthy, backend.Health);
        }
        await Tick(time, checker);
        Assert.Equal(BackendHealth.Unhealthy, backend.Health);

        probe.Up = true;
        for (var i = 1; i < s_settings.Rise; i++)
        {
            await Tick(time, checker);
            Assert.Equal(BackendHealth.Unhealthy, backend.Health);
        }
        await Tick(time, checker);
        Assert.Equal(BackendHealth.Healthy, backend.Health);
    }

    [Fact]
    public async Task Run_ProbeHangs_TimeoutCountsAsFailure()
    {
        var time = new FakeTimeProvider();
        var probe = new ScriptedProbe { Hang = true };
        var backend = TestBackends.Make(1);
        await using var checker = Checker(backend, probe, time, s_settings with { Fall = 1 });
        checker.Start();

        time.Advance(s_settings.Interval);
        await Eventually.True(() => probe.Calls == 1, "the probe was called");
        Assert.Equal(0, checker.Checks);
        await Tick(time, checker, s_settings.Timeout);
        Assert.Equal(BackendHealth.Unhealthy, backend.Health);
    }

    [Fact]
    public async Task Run_DisabledBackend_NotProbed()
    {
        var time = new FakeTimeProvider();
        var probe = new ScriptedProbe();
        var backend = TestBackends.Make(1);
        backend.SetAdminState(BackendAdminState.Disabled);
        await using var checker = Checker(backend, probe, time);
        checker.Start();
        for (var i = 0; i < 5; i++)
            time.Advance(s_settings.Interval);
        backend.SetAdminState(BackendAdminState.Active);
        await Tick(time, checker);
        Assert.Equal(1, probe.Calls);
    }

    [Fact]
    public async Task Run_RealListenerClosesAndReopens_UnhealthyThenHealthy()
    {
        // Real sockets on loopback with the system clock: only the order of events is asserted.
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Server.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Socket, System.Net.Sockets.SocketOptionName.ReuseAddress, true);
        listener.Start();
        var endPoint = (IPEndPoint)listener.LocalEndpoint;
        var backend = new Backend("test", endPoint, 1, 0);
        // A short interval keeps the test quick; a long timeout keeps a loaded machine from failing checks.
        var fast = new HealthSettings(TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(2), Rise: 2, Fall: 2, EjectAfter: 3);
        await using var checker = new BackendHealthChecker(backend, fast, null, TcpConnectProbe.Instance, TimeProvider.System, NullLogger.Instance);
        checker.Start();

        await Eventually.True(() => checker.Checks >= 2 && backend.Health == BackendHealth.Healthy, "two checks ran and it is healthy");

        listener.Stop();
        await Eventually.True(() => backend.Health == BackendHealth.Unhealthy, "the closed listener is seen as down");

        using var again = new System.Net.Sockets.TcpListener(endPoint);
        again.Server.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Socket, System.Net.Sockets.SocketOptionName.ReuseAddress, true);
        again.Start();
        await Eventually.True(() => backend.Health == BackendHealth.Healthy, "the reopened listener is seen as up");
    }
}
