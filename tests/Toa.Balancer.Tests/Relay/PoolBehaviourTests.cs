// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Toa.Balancer.Configuration;
using Toa.Balancer.Model;
using Toa.Wire;

namespace Toa.Balancer.Tests.Relay;

/// <summary>Which backend new connections reach: limits, drain, disable, health, TOA.</summary>
public class PoolBehaviourTests
{
    /// <summary>Opens a connection through the balancer and proves it reaches an echo backend.</summary>
    private static async Task<Socket> EchoThroughAsync(IPEndPoint balancer)
    {
        var client = await TestClient.ConnectAsync(balancer);
        await client.SendAsync("?"u8.ToArray());
        await TestClient.ReadExactlyAsync(client, 1);
        return client;
    }

    /// <summary>How a connection the balancer refuses ends; the reset may already fail the connect.</summary>
    private static async Task<SocketError> RefusedEndAsync(IPEndPoint balancer)
    {
        try
        {
            using var client = await TestClient.ConnectAsync(balancer);
            await client.SendAsync("?"u8.ToArray());
            client.Shutdown(SocketShutdown.Send);
            return await TestClient.ReadEndAsync(client);
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode;
        }
    }

    /// <summary>The real TCP probe, counting the checks it has finished.</summary>
    private sealed class CountingProbe : Toa.Balancer.Health.IHealthProbe
    {
        private int _done;

        public int Done => Volatile.Read(ref _done);

        public async ValueTask<bool> ProbeAsync(IPEndPoint backend, IPAddress? source, CancellationToken cancellationToken)
        {
            try
            {
                return await Toa.Balancer.Health.TcpConnectProbe.Instance.ProbeAsync(backend, source, cancellationToken);
            }
            finally
            {
                Interlocked.Increment(ref _done);
            }
        }
    }

    /// <summary>One interval of fake time, then wait for every backend's check of it.</summary>
    private static async Task TickAsync(FakeTimeProvider time, CountingProbe probe, int backends)
    {
        var target = probe.Done + backends;
        time.Advance(TimeSpan.FromSeconds(2));
        await Eventually.True(() => probe.Done >= target, "the checks of this interval ran");
    }

    private static string Status(BalancerHost host, TestServer server) =>
        host.GetStatus().Listeners.Single().Backends.Single(b => b.Address == server.Address).Status;

    [Fact]
    public async Task OverallLimit_Reached_ExtraClientResetAndCounted()
    {
        await using var server = TestServer.Echo();
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server)) with { MaxConnections = 1 });
        await using var _h = host.StopOnDispose();
        using var first = await EchoThroughAsync(host.EndPoint());

        Assert.Equal(SocketError.ConnectionReset, await RefusedEndAsync(host.EndPoint()));

        first.Dispose();
        await Eventually.True(() => host.GetStatus().ActiveConnections == 0, "the first connection is gone");
        using var again = await EchoThroughAsync(host.EndPoint());
        Assert.Contains("toa_lb_connections_rejected_total{listener=\"web\",reason=\"limit\"} 1", await Metrics(host));
    }

    [Fact]
    public async Task BackendLimit_Full_NextClientGoesToAnotherBackend()
    {
        await using var a = TestServer.Echo();
        await using var b = TestServer.Echo();
        var listener = TestHosts.Listener("web", a, b) with
        {
            Backends = [new BackendConfig { Address = a.Address, MaxConnections = 1 }, new BackendConfig { Address = b.Address, MaxConnections = 1 }],
        };
        var (host, _) = TestHosts.Start(TestHosts.Config(listener));
        await using var _h = host.StopOnDispose();

        using var first = await EchoThroughAsync(host.EndPoint());
        using var second = await EchoThroughAsync(host.EndPoint());
        Assert.Equal((1, 1), (a.Served, b.Served));

        Assert.Equal(SocketError.ConnectionReset, await RefusedEndAsync(host.EndPoint()));
        Assert.Contains("reason=\"backend_limit\"} 1", await Metrics(host));
    }

    [Fact]
    public async Task Drain_Backend_NoNewConnectionsButEstablishedOnesGoOn()
    {
        await using var a = TestServer.Echo();
        await using var b = TestServer.Echo();
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", a, b)));
        await using var _h = host.StopOnDispose();
        using var established = await EchoThroughAsync(host.EndPoint());
        var drained = a.Served == 1 ? a : b;

        Assert.Equal([$"web/{drained.Address}"], host.SetAdminState(drained.Address, BackendAdminState.Draining));
        var before = drained.Served;
        for (var i = 0; i < 6; i++)
            (await EchoThroughAsync(host.EndPoint())).Dispose();
        Assert.Equal(before, drained.Served);
        Assert.Equal("draining", Status(host, drained));

        await established.SendAsync("k"u8.ToArray());
        Assert.Equal("k"u8.ToArray(), await TestClient.ReadExactlyAsync(established, 1));

        host.SetAdminState($"web/{drained.Address}", BackendAdminState.Active);
        for (var i = 0; i < 2; i++)
            (await EchoThroughAsync(host.EndPoint())).Dispose();
        Assert.Equal(before + 1, drained.Served);
    }

    [Fact]
    public async Task Disable_Backend_ResetsItsEstablishedConnections()
    {
        await using var a = TestServer.Echo();
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", a)));
        await using var _h = host.StopOnDispose();
        using var client = await EchoThroughAsync(host.EndPoint());

        host.SetAdminState(a.Address, BackendAdminState.Disabled);

        Assert.Equal(SocketError.ConnectionReset, await TestClient.ReadEndAsync(client));
        Assert.Equal(SocketError.ConnectionReset, await RefusedEndAsync(host.EndPoint()));
        Assert.Contains("reason=\"no_backend\"} 1", await Metrics(host));
    }

    [Fact]
    public async Task Reload_BackendStays_KeepsAdminStateAndTakesNewWeight()
    {
        await using var a = TestServer.Echo();
        await using var b = TestServer.Echo();
        var config = TestHosts.Config(TestHosts.Listener("web", a, b));
        var (host, provider) = TestHosts.Start(config);
        await using var _h = host.StopOnDispose();
        host.SetAdminState(a.Address, BackendAdminState.Draining);

        var reloaded = config with
        {
            Listeners = [config.Listeners![0] with { Backends = [new BackendConfig { Address = a.Address, Weight = 5 }, new BackendConfig { Address = b.Address }] }],
        };
        provider.Update(reloaded);
        await Eventually.True(() => host.Config.Equals(reloaded), "the new configuration is running");

        var backend = host.GetStatus().Listeners[0].Backends[0];
        Assert.Equal((a.Address, 5, "draining"), (backend.Address, backend.Weight, backend.Status));
    }

    [Fact]
    public async Task Reload_ListenerAddressChanged_ListensOnTheNewAddress()
    {
        await using var server = TestServer.Echo();
        var config = TestHosts.Config(TestHosts.Listener("web", server));
        var (host, _) = TestHosts.Start(config);
        await using var _h = host.StopOnDispose();
        var before = host.EndPoint();

        // Applied directly: it returns once the old socket is closed, which a provider's reload does not wait for.
        await host.ApplyAsync(config with { Listeners = [config.Listeners![0] with { Address = "[::1]:0" }] });
        Assert.Equal(AddressFamily.InterNetworkV6, host.EndPoint().AddressFamily);

        using var client = await EchoThroughAsync(host.EndPoint());
        await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(before));
    }

    [Fact]
    public void SetAdminState_UnknownBackendOrListener_MatchesNothing()
    {
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web") with { Backends = [new BackendConfig { Address = "127.0.0.1:9" }] }));
        using var _ = new Disposer(host);
        Assert.Empty(host.SetAdminState("127.0.0.1:10", BackendAdminState.Draining));
        Assert.Empty(host.SetAdminState("api/127.0.0.1:9", BackendAdminState.Draining));
        Assert.Empty(host.SetAdminState("nonsense", BackendAdminState.Draining));
        Assert.Single(host.SetAdminState("web/127.0.0.1:9", BackendAdminState.Draining));
    }

    [Fact]
    public async Task Health_BackendKilledMidRun_EjectedNoNewConnectionsThenBackAfterRise()
    {
        var time = new FakeTimeProvider();
        await using var a = TestServer.Echo();
        await using var b = TestServer.Echo();
        var health = new HealthConfig { Interval = TimeSpan.FromSeconds(2), Timeout = TimeSpan.FromSeconds(1), Rise = 2, Fall = 3, EjectAfter = 0 };
        var probe = new CountingProbe();
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", a, b) with { Health = health }), time, probe: probe);
        await using var _h = host.StopOnDispose();
        (await EchoThroughAsync(host.EndPoint())).Dispose();

        await a.StopAsync();
        // Ejected within interval × fall: healthy after two failed checks, out at the third.
        for (var i = 0; i < 2; i++)
            await TickAsync(time, probe, backends: 2);
        Assert.Equal("healthy", Status(host, a));
        await TickAsync(time, probe, backends: 2);
        await Eventually.True(() => Status(host, a) == "unhealthy", "a is ejected");

        a.Restart();
        var servedBefore = a.Served;
        for (var i = 0; i < 6; i++)
            (await EchoThroughAsync(host.EndPoint())).Dispose();
        Assert.Equal(servedBefore, a.Served);

        await TickAsync(time, probe, backends: 2);
        Assert.Equal("unhealthy", Status(host, a));
        await TickAsync(time, probe, backends: 2);
        await Eventually.True(() => Status(host, a) == "healthy", "a is back after rise checks");
        for (var i = 0; i < 2; i++)
            (await EchoThroughAsync(host.EndPoint())).Dispose();
        Assert.Equal(servedBefore + 1, a.Served);
    }

    [Fact]
    public async Task PassiveEjection_ConnectsFailWithoutRetries_BackendOutAndClientsGoToTheOther()
    {
        await using var alive = TestServer.Echo();
        await using var dead = TestServer.Echo();
        await dead.StopAsync();
        var listener = TestHosts.Listener("web", alive, dead) with { Retries = 0, Health = new HealthConfig { EjectAfter = 2 } };
        var (host, _) = TestHosts.Start(TestHosts.Config(listener));
        await using var _h = host.StopOnDispose();

        var resets = 0;
        for (var i = 0; i < 8; i++)
        {
            if (await RefusedEndAsync(host.EndPoint()) == SocketError.ConnectionReset)
                resets++;
        }

        Assert.Equal(2, resets);
        Assert.Equal("unhealthy", Status(host, dead));
        Assert.Contains($"toa_lb_backend_connect_failures_total{{listener=\"web\",backend=\"{dead.Address}\"}} 2", await Metrics(host));
    }

    [Fact]
    public async Task Toa_ListenerOn_WriterGetsTheClientBeforeConnectAndIsCounted()
    {
        await using var server = TestServer.Echo();
        var toa = new RecordingToaWriter(written: true);
        var listener = TestHosts.Listener("web", server) with { Toa = "tencent", Snat = new SnatConfig { Ipv4 = "127.0.0.1" } };
        var (host, _) = TestHosts.Start(TestHosts.Config(listener), toa: toa);
        await using var _h = host.StopOnDispose();

        using var client = await EchoThroughAsync(host.EndPoint());

        var call = Assert.Single(toa.Attached);
        Assert.Equal("web", call.Listener);
        Assert.Equal(client.LocalEndPoint, call.Client);
        Assert.Equal(new ToaSettings(ToaFormat.Tencent, OnSyn: false), call.Toa);
        Assert.True(call.Bound);
        Assert.False(call.Connected);
        Assert.Equal(Toa.Wire.ToaLayout.Tencent4, call.Toa.AddressFor(call.Client).Layout);
        Assert.Contains("toa_lb_toa_written_total{listener=\"web\"} 1", await Metrics(host));
    }

    [Fact]
    public async Task Toa_Nat64IPv6ListenerIPv4Backend_WriterGetsTheIPv6Client()
    {
        await using var server = TestServer.Echo();
        var toa = new RecordingToaWriter(written: false);
        var listener = TestHosts.Listener("web", server) with { Address = "[::1]:0", Toa = "dpvs", ToaOnSyn = true };
        var (host, _) = TestHosts.Start(TestHosts.Config(listener), toa: toa);
        await using var _h = host.StopOnDispose();

        using var client = await EchoThroughAsync(host.EndPoint());

        var call = Assert.Single(toa.Attached);
        Assert.Equal(IPAddress.IPv6Loopback, call.Client.Address);
        Assert.Equal(Toa.Wire.ToaLayout.Dpvs6, call.Toa.AddressFor(call.Client).Layout);
        Assert.True(call.Toa.OnSyn);
        Assert.Contains("toa_lb_toa_failed_total{listener=\"web\"} 1", await Metrics(host));
    }

    [Fact]
    public async Task Toa_ListenerOnWithoutAWriter_CountedAsFailed()
    {
        await using var server = TestServer.Echo();
        var listener = TestHosts.Listener("web", server) with { Toa = "tencent" };
        var (host, _) = TestHosts.Start(TestHosts.Config(listener));
        await using var _h = host.StopOnDispose();

        using var client = await EchoThroughAsync(host.EndPoint());

        var metrics = await Metrics(host);
        Assert.Contains("toa_lb_toa_failed_total{listener=\"web\"} 1", metrics);
        Assert.Contains("toa_lb_toa_written_total{listener=\"web\"} 0", metrics);
    }

    [Fact]
    public async Task Toa_ListenerOff_WriterNotCalled()
    {
        await using var server = TestServer.Echo();
        var toa = new RecordingToaWriter(written: true);
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server)), toa: toa);
        await using var _h = host.StopOnDispose();
        using var client = await EchoThroughAsync(host.EndPoint());
        Assert.Empty(toa.Attached);
    }

    /// <summary>
    /// A backend whose SYNs go unanswered: it listens with a backlog of 0 and never accepts, and
    /// the one connection made here fills its queue, so the kernel drops further SYNs.
    /// </summary>
    private static (Socket Listener, Socket Filler) Unanswering()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        filler.Connect(listener.LocalEndPoint!);
        return (listener, filler);
    }

    private static ListenerConfig ListenerFor(Socket backend) => TestHosts.Listener("web", [backend.LocalEndPoint!.ToString()!]);

    [Fact]
    public async Task ConnectTimeout_BackendNeverAnswers_ClientResetAndCounted()
    {
        var (backend, filler) = Unanswering();
        using var _b = backend;
        using var _f = filler;
        var time = new FakeTimeProvider();
        var (host, _) = TestHosts.Start(TestHosts.Config(ListenerFor(backend) with { ConnectTimeout = TimeSpan.FromSeconds(2) }), time);
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());
        var end = TestClient.ReadEndAsync(client);

        // The connect's timer starts a moment after the accept: step the clock until it fires.
        await Eventually.True(() =>
        {
            time.Advance(TimeSpan.FromMilliseconds(500));
            return end.IsCompleted;
        }, "the client's connection ended");

        Assert.Equal(SocketError.ConnectionReset, await end);
        var metrics = await Metrics(host);
        Assert.Contains("toa_lb_connections_rejected_total{listener=\"web\",reason=\"connect_failed\"} 1", metrics);
        Assert.Contains($"toa_lb_backend_connect_failures_total{{listener=\"web\",backend=\"{backend.LocalEndPoint}\"}} 1", metrics);
    }

    [Fact]
    public async Task ClientResetsWhileConnecting_ConnectionEndsWithoutWaitingForTheTimeout()
    {
        var (backend, filler) = Unanswering();
        using var _b = backend;
        using var _f = filler;
        // The fake clock never moves: the connect timeout cannot be what ends the connection.
        var (host, _) = TestHosts.Start(TestHosts.Config(ListenerFor(backend)));
        await using var _h = host.StopOnDispose();
        var client = await TestClient.ConnectAsync(host.EndPoint());
        await Eventually.True(() => host.GetStatus().ActiveConnections == 1, "the balancer accepted the client");

        client.LingerState = new LingerOption(true, 0);
        client.Dispose(); // a reset

        await Eventually.True(() => host.GetStatus().ActiveConnections == 0, "the balancer let go of the connection");
        Assert.DoesNotContain("reason=\"connect_failed\"} 1", await Metrics(host));
    }

    [Fact]
    public async Task Redispatch_OneOfTwoBackendsDead_NoClientFailsAndEachRetryIsCounted()
    {
        await using var alive = TestServer.Echo();
        await using var dead = TestServer.Echo();
        await dead.StopAsync();
        // Passive ejection off: every client sent to the dead backend must be redispatched.
        var listener = TestHosts.Listener("web", dead, alive) with { Health = new HealthConfig { EjectAfter = 0 } };
        var (host, _) = TestHosts.Start(TestHosts.Config(listener));
        await using var _h = host.StopOnDispose();

        for (var i = 0; i < 20; i++)
            (await EchoThroughAsync(host.EndPoint())).Dispose();

        var metrics = await Metrics(host);
        Assert.Contains($"toa_lb_backend_connect_failures_total{{listener=\"web\",backend=\"{dead.Address}\"}} 10", metrics);
        Assert.Contains("toa_lb_connect_retries_total{listener=\"web\"} 10", metrics);
        Assert.DoesNotContain("reason=\"connect_failed\"", metrics);
        Assert.Equal(20, alive.Served);
    }

    /// <summary>The issue's measure: HAProxy with <c>retries 3</c> and <c>option redispatch</c> fails none of these.</summary>
    [Fact]
    public async Task Redispatch_OneOfTwoBackendsKilledAtTheStart_NoneOf200SequentialClientsFails()
    {
        await using var a = TestServer.Echo();
        await using var b = TestServer.Echo();
        // Every default, on the real clock: health checks and passive ejection run as in production.
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", a, b) with { Scheduler = null }), TimeProvider.System);
        await using var _h = host.StopOnDispose();
        for (var i = 0; i < 2; i++)
            (await EchoThroughAsync(host.EndPoint())).Dispose();

        await b.StopAsync();
        var failed = 0;
        for (var i = 0; i < 200; i++)
        {
            try
            {
                (await EchoThroughAsync(host.EndPoint())).Dispose();
            }
            catch (Exception e) when (e is SocketException or EndOfStreamException)
            {
                failed++;
            }
        }

        Assert.Equal(0, failed);
        Assert.Contains("toa_lb_connect_retries_total{listener=\"web\"}", await Metrics(host));
    }

    [Fact]
    public async Task Redispatch_EveryBackendDead_EachTriedOnceThenClientReset()
    {
        await using var first = TestServer.Echo();
        await using var second = TestServer.Echo();
        await first.StopAsync();
        await second.StopAsync();
        var listener = TestHosts.Listener("web", first, second) with { Retries = 5, Health = new HealthConfig { EjectAfter = 0 } };
        var (host, _) = TestHosts.Start(TestHosts.Config(listener));
        await using var _h = host.StopOnDispose();

        Assert.Equal(SocketError.ConnectionReset, await RefusedEndAsync(host.EndPoint()));

        var metrics = await Metrics(host);
        Assert.Contains($"toa_lb_backend_connect_failures_total{{listener=\"web\",backend=\"{first.Address}\"}} 1", metrics);
        Assert.Contains($"toa_lb_backend_connect_failures_total{{listener=\"web\",backend=\"{second.Address}\"}} 1", metrics);
        Assert.Contains("toa_lb_connect_retries_total{listener=\"web\"} 1", metrics);
        Assert.Contains("toa_lb_connections_rejected_total{listener=\"web\",reason=\"connect_failed\"} 1", metrics);
        await Eventually.True(() => host.GetStatus().Listeners[0].Backends.All(b => b.ActiveConnections == 0), "no backend holds the connection");
    }

    [Fact]
    public async Task Redispatch_FirstBackendTimesOut_ClientServedByTheOther()
    {
        var (backend, filler) = Unanswering();
        using var _b = backend;
        using var _f = filler;
        await using var alive = TestServer.Echo();
        var time = new FakeTimeProvider();
        // Smooth weighted round robin gives the first client to the heaviest backend: the silent one.
        var listener = TestHosts.Listener("web", alive) with
        {
            Scheduler = "weighted-round-robin",
            ConnectTimeout = TimeSpan.FromSeconds(2),
            Backends = [new BackendConfig { Address = backend.LocalEndPoint!.ToString(), Weight = 100 }, new BackendConfig { Address = alive.Address }],
        };
        var (host, _) = TestHosts.Start(TestHosts.Config(listener), time);
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());
        await client.SendAsync("?"u8.ToArray());
        var echoed = TestClient.ReadExactlyAsync(client, 1);

        await Eventually.True(() =>
        {
            time.Advance(TimeSpan.FromMilliseconds(500));
            return echoed.IsCompleted;
        }, "the client was answered");

        Assert.Equal("?"u8.ToArray(), await echoed);
        Assert.Contains("toa_lb_connect_retries_total{listener=\"web\"} 1", await Metrics(host));
    }

    private static async Task<string> Metrics(BalancerHost host)
    {
        using var stream = new MemoryStream();
        await host.WriteMetricsAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private sealed class Disposer(BalancerHost host) : IDisposable
    {
        public void Dispose() => host.StopAsync().Wait(Eventually.Limit);
    }
}
