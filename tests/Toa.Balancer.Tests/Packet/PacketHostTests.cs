// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Toa.Balancer.Configuration;
using Toa.Balancer.Health;
using Toa.Balancer.Management;
using Toa.Balancer.Model;
using Toa.Balancer.Packet;
using Toa.Wire;

namespace Toa.Balancer.Tests.Packet;

/// <summary>The host and the packet engine: what it is handed and when, status and metrics. No packet moves here.</summary>
public class PacketHostTests
{
    private static readonly IPEndPoint s_first = IPEndPoint.Parse("10.0.0.1:8080");
    private static readonly IPEndPoint s_second = IPEndPoint.Parse("10.0.0.2:8080");
    private static readonly IPEndPoint s_third = IPEndPoint.Parse("10.0.0.3:8080");

    /// <summary>A health check that fails for the backends in <see cref="Down"/>, counting the checks it has finished.</summary>
    private sealed class SwitchProbe : IHealthProbe
    {
        private int _done;

        public HashSet<IPEndPoint> Down { get; } = [];

        public int Done => Volatile.Read(ref _done);

        public ValueTask<bool> ProbeAsync(IPEndPoint backend, IPAddress? source, CancellationToken cancellationToken)
        {
            bool up;
            lock (Down)
                up = !Down.Contains(backend);
            Interlocked.Increment(ref _done);
            return ValueTask.FromResult(up);
        }
    }

    private static ListenerConfig Vip(string name = "vip", params (IPEndPoint Address, int Weight)[] backends) => new()
    {
        Name = name,
        Address = "192.0.2.10:80",
        Engine = EngineNames.Packet,
        Toa = "tencent",
        IdleTimeout = TimeSpan.FromMinutes(3),
        Health = new HealthConfig { Fall = 1, Rise = 1 },
        Backends = (backends.Length > 0 ? backends : [(s_first, 1), (s_second, 2)])
            .Select(b => new BackendConfig { Address = b.Address.ToString(), Weight = b.Weight }).ToArray(),
    };

    private sealed record Started(BalancerHost Host, RecordingPacketEngine Engine, FakeTimeProvider Time, SwitchProbe Probe) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await Host.StopAsync().WaitAsync(Eventually.Limit);

        /// <summary>One interval of fake time, then wait for every backend's check of it.</summary>
        public async Task TickAsync(int backends)
        {
            var target = Probe.Done + backends;
            Time.Advance(TimeSpan.FromSeconds(2));
            await Eventually.True(() => Probe.Done >= target, "the checks of this interval ran");
        }
    }

    private static Started Start(BalancerConfig config, RecordingPacketEngine? engine = null, RecordingLoggerFactory? logging = null)
    {
        engine ??= new RecordingPacketEngine();
        var time = new FakeTimeProvider();
        var probe = new SwitchProbe();
        var (host, _) = TestHosts.Start(config, time, probe: probe, packet: engine, logging: logging);
        return new Started(host, engine, time, probe);
    }

    [Fact]
    public async Task Start_PacketListener_PreparedThenHandedItWithAWeightedMaglevTable()
    {
        await using var run = Start(TestHosts.Config(Vip()) with { Packet = new PacketConfig { MaxConnections = 500, LocalPorts = "50000-50999" } });

        Assert.Equal([new PacketEngineSettings(500, 50000, 50999)], run.Engine.Prepared);
        var vip = Assert.Single(Assert.Single(run.Engine.Applied));
        Assert.Equal(IPEndPoint.Parse("192.0.2.10:80"), vip.EndPoint);
        Assert.Equal(new ToaSettings(ToaFormat.Tencent, OnSyn: false), vip.Toa);
        Assert.Equal(TimeSpan.FromMinutes(3), vip.IdleTimeout);
        Assert.Null(vip.Interfaces);
        Assert.Equal([s_first, s_second], vip.Backends);
        Assert.Equal(PacketListener.TableSize, vip.Table.Count);
        var slots = RecordingPacketEngine.Slots(vip);
        // Weights 1 and 2: a third and two thirds of the slots, give or take Maglev's rounding.
        Assert.InRange(slots[s_first], PacketListener.TableSize / 3 - 50, PacketListener.TableSize / 3 + 50);
        Assert.Equal(PacketListener.TableSize, slots[s_first] + slots[s_second]);
    }

    [Fact]
    public async Task Start_OnlyProxyListeners_EngineNeverAsked()
    {
        await using var server = TestServer.Echo();
        await using var run = Start(TestHosts.Config(TestHosts.Listener("web", server)));

        Assert.Empty(run.Engine.Prepared);
        Assert.Empty(run.Engine.Applied);
    }

    [Fact]
    public async Task BackendDown_HandedATableWithoutItThatStillListsIt()
    {
        await using var run = Start(TestHosts.Config(Vip()));
        lock (run.Probe.Down)
            run.Probe.Down.Add(s_second);

        await run.TickAsync(2);

        await Eventually.True(() => !RecordingPacketEngine.Slots(run.Engine.LastOf("vip")!).ContainsKey(s_second), "the table leaves the failed backend out");
        var vip = run.Engine.LastOf("vip")!;
        Assert.Equal([s_first, s_second], vip.Backends); // its established connections go on
        Assert.Equal(PacketListener.TableSize, RecordingPacketEngine.Slots(vip)[s_first]);
    }

    [Fact]
    public async Task AllBackendsDown_HandedAnEmptyTable()
    {
        await using var run = Start(TestHosts.Config(Vip()));
        lock (run.Probe.Down)
            run.Probe.Down.UnionWith([s_first, s_second]);

        await run.TickAsync(2);

        await Eventually.True(() => run.Engine.LastOf("vip")!.Table.Count == 0, "the table is empty: new connections are refused");
        Assert.Equal(2, run.Engine.LastOf("vip")!.Backends.Count);
    }

    [Fact]
    public async Task Drain_DrainedBackendOutOfTheTableButStillInBackends()
    {
        await using var run = Start(TestHosts.Config(Vip()));

        Assert.Equal(["vip/10.0.0.1:8080"], run.Host.SetAdminState("vip/10.0.0.1:8080", BackendAdminState.Draining));

        await Eventually.True(() => !RecordingPacketEngine.Slots(run.Engine.LastOf("vip")!).ContainsKey(s_first), "the table leaves the drained backend out");
        Assert.Equal([s_first, s_second], run.Engine.LastOf("vip")!.Backends);
        Assert.Equal("draining", run.Host.GetStatus().Listeners.Single().Backends[0].Status);

        run.Host.SetAdminState("10.0.0.1:8080", BackendAdminState.Active);
        await Eventually.True(() => RecordingPacketEngine.Slots(run.Engine.LastOf("vip")!).ContainsKey(s_first), "the enabled backend is back in the table");
    }

    [Fact]
    public async Task Reload_BackendAdded_HandedTheWholeSetAndFewSlotsMove()
    {
        await using var run = Start(TestHosts.Config(Vip("vip", (s_first, 1), (s_second, 1)), Vip("other") with { Address = "192.0.2.11:80" }));
        var before = run.Engine.LastOf("vip")!;

        await run.Host.ApplyAsync(TestHosts.Config(Vip("vip", (s_first, 1), (s_second, 1), (s_third, 1)), Vip("other") with { Address = "192.0.2.11:80" }));

        Assert.Equal(["other", "vip"], run.Engine.Last!.Select(l => l.Name));
        var after = run.Engine.LastOf("vip")!;
        Assert.Equal([s_first, s_second, s_third], after.Backends);
        // Maglev: a third backend takes about a third of the slots, and the others keep theirs.
        var moved = Enumerable.Range(0, PacketListener.TableSize).Count(i => before.Backends[before.Table[i]] != after.Backends[after.Table[i]]);
        Assert.Equal(RecordingPacketEngine.Slots(after)[s_third], moved, tolerance: PacketListener.TableSize / 20);
    }

    [Fact]
    public async Task Reload_ListenerRemoved_HandedTheSetWithoutIt()
    {
        await using var run = Start(TestHosts.Config(Vip(), Vip("other") with { Address = "192.0.2.11:80" }));

        await run.Host.ApplyAsync(TestHosts.Config(Vip()));

        Assert.Equal(["vip"], run.Engine.Last!.Select(l => l.Name));
    }

    [Fact]
    public async Task Start_PacketListener_SaysItRunsOnlyOnceTheEngineHasIt()
    {
        var logging = new RecordingLoggerFactory();
        var saidBefore = true;
        var engine = new RecordingPacketEngine();
        engine.Applying = () => saidBefore = logging.Has("PacketListenerStarted");

        await using var run = Start(TestHosts.Config(Vip()), engine, logging);

        Assert.False(saidBefore);
        Assert.Contains(("PacketListenerStarted", "Listener vip on 192.0.2.10:80 runs in the packet engine"), logging.Events);
    }

    [Fact]
    public async Task Reload_EngineRefusesTheListeners_LoggedAndNotSaidToRun()
    {
        var logging = new RecordingLoggerFactory();
        await using var run = Start(TestHosts.Config(Vip()), logging: logging);
        run.Engine.CannotApply = new InvalidOperationException("192.0.2.11 is not an address of this host");

        await run.Host.ApplyAsync(TestHosts.Config(Vip(), Vip("other") with { Address = "192.0.2.11:80" }));

        Assert.True(logging.Has("PacketApplyFailed"));
        Assert.DoesNotContain(logging.Events, e => e.Message.Contains("Listener other", StringComparison.Ordinal) && e.Event == "PacketListenerStarted");
        Assert.Equal(["vip"], Assert.Single(run.Engine.Applied).Select(l => l.Name)); // the engine runs what it ran
    }

    [Fact]
    public void Start_PrepareFails_StartThrowsItsException()
    {
        var engine = new RecordingPacketEngine { CannotPrepare = new UnauthorizedAccessException("not root") };

        var e = Assert.Throws<UnauthorizedAccessException>(() => Start(TestHosts.Config(Vip()), engine));

        Assert.Equal("not root", e.Message);
        Assert.True(engine.Disposed);
    }

    [Fact]
    public async Task Reload_PrepareFails_RefusedAndTheRunningConfigurationStays()
    {
        await using var server = TestServer.Echo();
        var running = TestHosts.Config(TestHosts.Listener("web", server));
        await using var run = Start(running);
        run.Engine.CannotPrepare = new UnauthorizedAccessException("not root");

        await run.Host.ApplyAsync(TestHosts.Config(TestHosts.Listener("web", server), Vip()));

        Assert.Same(running, run.Host.Config);
        Assert.Empty(run.Engine.Applied);
        Assert.Equal(["web"], run.Host.GetStatus().Listeners.Select(l => l.Name));
        using (var client = await TestClient.ConnectAsync(run.Host.EndPoint()))
        {
            await client.SendAsync("x"u8.ToArray());
            Assert.Equal("x"u8.ToArray(), await TestClient.ReadExactlyAsync(client, 1));
        }
        var metrics = await MetricsAsync(run.Host);
        Assert.Contains("toa_lb_config_reloads_total{result=\"refused\"} 1", metrics);
    }

    [Fact]
    public async Task Reload_EngineSwitched_StoppedInOneStartedInTheOther()
    {
        await using var server = TestServer.Echo();
        var proxy = TestHosts.Listener("web", server);
        await using var run = Start(TestHosts.Config(proxy));
        var relayed = run.Host.EndPoint();

        await run.Host.ApplyAsync(TestHosts.Config(Vip("web")));

        Assert.Equal(["web"], run.Engine.Last!.Select(l => l.Name));
        Assert.Equal("packet", run.Host.GetStatus().Listeners.Single().Engine);
        Assert.Equal(IPEndPoint.Parse("192.0.2.10:80"), run.Host.EndPoint());
        await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(relayed)); // the proxy's socket is closed

        await run.Host.ApplyAsync(TestHosts.Config(proxy));

        Assert.Empty(run.Engine.Last!);
        Assert.Equal("proxy", run.Host.GetStatus().Listeners.Single().Engine);
        using var client = await TestClient.ConnectAsync(run.Host.EndPoint());
        await client.SendAsync("x"u8.ToArray());
        Assert.Equal("x"u8.ToArray(), await TestClient.ReadExactlyAsync(client, 1));
    }

    private static RecordingPacketEngine Counting() => new()
    {
        Counted = new PacketCounts(
            new Dictionary<string, PacketListenerCounts>
            {
                ["vip"] = new(Connections: 7, Active: 3, PacketsIn: 70, PacketsOut: 60, BytesIn: 1000, BytesOut: 50000, ToaWritten: 14, ToaNoRoom: 1,
                    ToaRemoved: 2, TableFull: 4, NoBackend: 5, NoPort: 6, NoRoute: 8, MssClamped: 9, PortsReused: 10),
            },
            new Dictionary<(string, IPEndPoint), PacketBackendCounts>
            {
                [("vip", s_first)] = new(Connections: 5, Active: 2, BytesIn: 700, BytesOut: 30000),
                [("vip", s_second)] = new(Connections: 2, Active: 1, BytesIn: 300, BytesOut: 20000),
            }),
    };

    [Fact]
    public async Task Status_PacketListener_ItsEngineAndTheEnginesCounts()
    {
        await using var run = Start(TestHosts.Config(Vip()) with { Packet = new PacketConfig { MaxConnections = 1000 } }, Counting());

        var status = run.Host.GetStatus();

        var vip = status.Listeners.Single();
        Assert.Equal(("packet", "192.0.2.10:80", "maglev", "tencent"), (vip.Engine, vip.Address, vip.Scheduler, vip.Toa));
        Assert.Equal([(2, 5L), (1, 2L)], vip.Backends.Select(b => (b.ActiveConnections, b.TotalConnections)));
        Assert.Equal(new PacketStatus(3, 1000), status.Packet);
    }

    [Fact]
    public async Task Status_OnlyProxyListeners_NoPacketSummary()
    {
        await using var server = TestServer.Echo();
        await using var run = Start(TestHosts.Config(TestHosts.Listener("web", server)));

        var status = run.Host.GetStatus();

        Assert.Null(status.Packet);
        Assert.Equal("proxy", status.Listeners.Single().Engine);
    }

    private static async Task<string[]> MetricsAsync(BalancerHost host)
    {
        using var stream = new MemoryStream();
        await host.WriteMetricsAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()).Split('\n');
    }

    [Fact]
    public async Task Metrics_PacketListener_TheEnginesCountersUnderTheSameAndTheirOwnNames()
    {
        await using var run = Start(TestHosts.Config(Vip()), Counting());

        var metrics = await MetricsAsync(run.Host);

        string[] expected =
        [
            "toa_lb_connections_total{listener=\"vip\"} 7",
            "toa_lb_connections_active{listener=\"vip\"} 3",
            "toa_lb_bytes_total{listener=\"vip\",direction=\"client_to_backend\"} 1000",
            "toa_lb_bytes_total{listener=\"vip\",direction=\"backend_to_client\"} 50000",
            "toa_lb_toa_written_total{listener=\"vip\"} 14",
            "toa_lb_toa_failed_total{listener=\"vip\"} 1",
            "toa_lb_packet_toa_removed_total{listener=\"vip\"} 2",
            "toa_lb_packet_refused_total{listener=\"vip\",reason=\"table_full\"} 4",
            "toa_lb_packet_refused_total{listener=\"vip\",reason=\"no_backend\"} 5",
            "toa_lb_packet_refused_total{listener=\"vip\",reason=\"no_port\"} 6",
            "toa_lb_packet_refused_total{listener=\"vip\",reason=\"no_route\"} 8",
            "toa_lb_packet_mss_clamped_total{listener=\"vip\"} 9",
            "toa_lb_packet_ports_reused_total{listener=\"vip\"} 10",
            "toa_lb_backend_connections_active{listener=\"vip\",backend=\"10.0.0.1:8080\"} 2",
            "toa_lb_scheduler_choices_total{listener=\"vip\",backend=\"10.0.0.2:8080\"} 2",
            "toa_lb_backend_up{listener=\"vip\",backend=\"10.0.0.1:8080\"} 1",
        ];
        foreach (var line in expected)
            Assert.Contains(line, metrics);
    }

    [Fact]
    public async Task Stop_EngineDisposedAfterTheListenersAndHandedNothingMore()
    {
        var run = Start(TestHosts.Config(Vip()));
        lock (run.Probe.Down)
            run.Probe.Down.Add(s_first);

        await run.Host.StopAsync().WaitAsync(Eventually.Limit);
        run.Time.Advance(TimeSpan.FromSeconds(10));

        Assert.True(run.Engine.Disposed);
        Assert.Equal(0, run.Engine.AppliedAfterDispose);
        // Stopping hands no empty set over: the engine's connections outlive the process.
        Assert.All(run.Engine.Applied, set => Assert.Single(set));
    }
}
