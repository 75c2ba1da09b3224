// SPDX-License-Identifier: MIT
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Toa.Wire;

namespace Toa.Balancer.Packet.Tests;

/// <summary>FullnatEngine over a fake datapath and a fake network: what it writes, in which order, and what it refuses.</summary>
public sealed class EngineTests : IDisposable
{
    private static readonly IPEndPoint Vip4 = IPEndPoint.Parse("192.0.2.1:80");
    private static readonly IPEndPoint Vip6 = IPEndPoint.Parse("[2001:db8::1]:80");
    private static readonly IPEndPoint B1 = IPEndPoint.Parse("10.1.0.11:8080");
    private static readonly IPEndPoint B2 = IPEndPoint.Parse("10.1.0.12:8080");
    private static readonly IPEndPoint B3 = IPEndPoint.Parse("10.1.0.13:8080");

    private readonly FakeDatapath _datapath = new();
    private readonly FakeNetwork _network = new();
    private readonly FakeTimeProvider _time = new();
    private readonly string _sysctls = Directory.CreateTempSubdirectory("toa-engine-sysctl-").FullName;
    private readonly FullnatEngine _engine;
    private bool _pinsRemoved;

    public EngineTests()
    {
        File.WriteAllText(Path.Combine(_sysctls, "ip_local_reserved_ports"), "22\n");
        File.WriteAllText(Path.Combine(_sysctls, "ip_local_port_range"), "32768\t60999\n");
        _engine = new FullnatEngine(NullLoggerFactory.Instance, _time, _ => _datapath, _network, new LocalPorts(_sysctls), "/pins", () => _pinsRemoved = true);
    }

    public void Dispose() => Directory.Delete(_sysctls, recursive: true);

    private static readonly PacketEngineSettings Settings = new(MaxConnections: 1000, PortMin: 61000, PortMax: 65535);

    private static PacketListener Listener(string name, IPEndPoint vip, IPEndPoint[] backends, int[]? weights = null,
        ToaFormat? toa = ToaFormat.Tencent, IReadOnlyList<string>? interfaces = null) =>
        new(name, vip, new ToaSettings(toa, OnSyn: false), null, null, interfaces, TimeSpan.FromMinutes(10), backends,
            backends.Length == 0 ? [] : Table(weights ?? [.. backends.Select((_, i) => i)]));

    // A table that takes the listed backend positions in turn: enough to tell tables apart.
    private static int[] Table(int[] positions) => [.. Enumerable.Range(0, PacketListener.TableSize).Select(i => positions[i % positions.Length])];

    private void Start(params PacketListener[] listeners)
    {
        _engine.Prepare(Settings);
        _engine.Apply(listeners);
    }

    [Fact]
    public void Apply_NewListener_WritesBackendsTableThenVipAndAttaches()
    {
        Start(Listener("web", Vip4, [B1, B2]));

        var vip = _datapath.Vips[Vip4];
        Assert.Equal(0u, vip.Id);
        Assert.Equal(2u, vip.Backends);
        Assert.Equal(PacketAbi.ToaFormat.Tencent, vip.Toa);
        Assert.Equal(0, vip.Flags);
        // eth0 and eth1 carry 1500: IPv4 and TCP headers and the 8-byte 200/8 option leave 1452.
        Assert.Equal(1452, vip.Mss);
        Assert.Equal(B1, FakeDatapath.EndPointOf(_datapath.Backends[0]));
        Assert.Equal(B2, FakeDatapath.EndPointOf(_datapath.Backends[1]));
        Assert.Equal(IPAddress.Parse("10.1.0.1"), FakeDatapath.SnatOf(_datapath.Backends[0]));
        Assert.Equal(0u, _datapath.Backends[1].Listener);
        var table = _datapath.Tables[vip.Region];
        Assert.Equal(PacketListener.TableSize, table.Length);
        Assert.Equal([0u, 1u, 0u, 1u], table[..4]);
        // The VIP's interface (eth0) and the route to the backends (eth1), before any map points at them.
        Assert.Equal([2, 3], _datapath.Attached);
        Assert.True(_datapath.Calls.IndexOf("attach 3") < _datapath.Calls.IndexOf($"table {vip.Region}"));
        Assert.True(_datapath.Calls.IndexOf($"table {vip.Region}") < _datapath.Calls.IndexOf($"vip {Vip4} region {vip.Region}"));
        Assert.Equal("config 61000-65535", _datapath.Calls[0]);
    }

    [Fact]
    public void Apply_ChangedTable_WritesAFreeRegionBeforeTheVipAndFreesTheOld()
    {
        Start(Listener("web", Vip4, [B1, B2]));
        var first = _datapath.Vips[Vip4].Region;
        _datapath.Calls.Clear();

        _engine.Apply([Listener("web", Vip4, [B1, B2], weights: [1])]);

        var second = _datapath.Vips[Vip4].Region;
        Assert.NotEqual(first, second);
        Assert.Equal([$"table {second}", $"vip {Vip4} region {second}"], _datapath.Calls);
        Assert.All(_datapath.Tables[second], slot => Assert.Equal(1u, slot));
        Assert.Equal(1u, _datapath.Vips[Vip4].Backends);

        _engine.Apply([Listener("web", Vip4, [B1, B2], weights: [0])]);
        Assert.Equal(first, _datapath.Vips[Vip4].Region);
    }

    [Fact]
    public void Apply_SameConfigurationAgain_WritesNothing()
    {
        Start(Listener("web", Vip4, [B1, B2]));
        _datapath.Calls.Clear();

        _engine.Apply([Listener("web", Vip4, [B1, B2])]);

        Assert.Empty(_datapath.Calls);
    }

    [Fact]
    public void Apply_ListenerMoved_WritesTheNewVipThenRemovesTheOld()
    {
        var moved = IPEndPoint.Parse("192.0.2.1:8080");
        Start(Listener("web", Vip4, [B1]));
        _datapath.Calls.Clear();

        _engine.Apply([Listener("web", moved, [B1])]);

        Assert.Equal([$"vip {moved} region 0", $"remove vip {Vip4}"], _datapath.Calls);
        Assert.Equal(0u, _datapath.Vips[moved].Id);
    }

    [Fact]
    public void Apply_AnotherListenerTakesTheAddress_ItsVipStays()
    {
        var other = IPEndPoint.Parse("192.0.2.1:81");
        Start(Listener("a", Vip4, [B1]), Listener("b", other, [B2]));

        // b moves to a's address while a leaves (and, in the next reload, back while a new one takes 81).
        _engine.Apply([Listener("b", Vip4, [B2])]);
        Assert.Equal([Vip4], _datapath.Vips.Keys);
        _engine.Apply([Listener("c", Vip4, [B3]), Listener("b", other, [B2])]);

        Assert.Equal(new HashSet<IPEndPoint> { Vip4, other }, _datapath.Vips.Keys.ToHashSet());
        Assert.Equal(B3, FakeDatapath.EndPointOf(_datapath.Backends[_datapath.Tables[_datapath.Vips[Vip4].Region][0]]));
    }

    [Fact]
    public void Apply_Reload_KeepsListenerIdsAndBackendIndexes()
    {
        Start(Listener("a", Vip4, [B1]), Listener("b", IPEndPoint.Parse("192.0.2.1:81"), [B2]));
        var idB = _datapath.Vips[IPEndPoint.Parse("192.0.2.1:81")].Id;

        _engine.Apply([Listener("b", IPEndPoint.Parse("192.0.2.1:81"), [B3, B2]), Listener("a", Vip4, [B1])]);

        Assert.Equal(idB, _datapath.Vips[IPEndPoint.Parse("192.0.2.1:81")].Id);
        Assert.Equal(0u, _datapath.Vips[Vip4].Id);
        // B2 keeps index 1 under b; B3 is new.
        Assert.Equal(B2, FakeDatapath.EndPointOf(_datapath.Backends[1]));
        Assert.Equal(B3, FakeDatapath.EndPointOf(_datapath.Backends[2]));
        Assert.Equal([2u, 1u], _datapath.Tables[_datapath.Vips[IPEndPoint.Parse("192.0.2.1:81")].Region][..2]);
    }

    [Fact]
    public void Sweep_RemovedBackend_KeepsItsIndexWhileItsConnectionsLast()
    {
        Start(Listener("web", Vip4, [B1, B2]));
        _datapath.AddConnection(IPEndPoint.Parse("198.51.100.7:40000"), Vip4, IPEndPoint.Parse("10.1.0.1:61001"), B2, 0, 1);

        _engine.Apply([Listener("web", Vip4, [B1])]);
        _engine.Sweep();
        _engine.Apply([Listener("web", Vip4, [B1, B3])]);

        Assert.Equal(B2, FakeDatapath.EndPointOf(_datapath.Backends[1]));
        Assert.Equal(B3, FakeDatapath.EndPointOf(_datapath.Backends[2]));
        Assert.Equal(1, _engine.Counts().Backends[("web", B2)].Active);

        _datapath.FlowTable.Clear();
        _engine.Sweep();
        Assert.False(_engine.Counts().Backends.ContainsKey(("web", B2)));
        _engine.Apply([Listener("web", Vip4, [B1, B3, IPEndPoint.Parse("10.1.0.14:8080")])]);
        Assert.Equal(IPEndPoint.Parse("10.1.0.14:8080"), FakeDatapath.EndPointOf(_datapath.Backends[1]));
    }

    [Fact]
    public void Apply_Ipv6ListenerWithIpv4Backends_IsNat64WithTheIpv6Option()
    {
        Start(Listener("six", Vip6, [B1]));

        var vip = _datapath.Vips[Vip6];
        Assert.Equal(PacketAbi.VipNat64, vip.Flags);
        // Client side: IPv6 and TCP headers (60); backend side: IPv4 and TCP (40) and the 20-byte 253/20 option.
        Assert.Equal(1440, vip.Mss);
    }

    [Fact]
    public void Apply_SmallerMtuOnTheClientSide_ClampsToItWithoutTheOption()
    {
        _network.LinkList[1] = _network.LinkList[1] with { Mtu = 1400 };
        Start(Listener("web", Vip4, [B1]));

        // Segments toward the client carry no TOA: 1400 less IPv4 and TCP headers.
        Assert.Equal(1360, _datapath.Vips[Vip4].Mss);
    }

    [Fact]
    public void Apply_Ipv6Backends_Refused()
    {
        _engine.Prepare(Settings);

        var e = Assert.Throws<PacketEngineException>(() => _engine.Apply([Listener("six", Vip6, [IPEndPoint.Parse("[2001:db8:1::5]:80")])]));

        Assert.Contains("listener six: the packet engine forwards to IPv4 backends only", e.Message);
    }

    [Fact]
    public void Apply_SmallerMtuOnTheBackendSide_ClampsToIt()
    {
        _network.LinkList[2] = _network.LinkList[2] with { Mtu = 1400 };
        Start(Listener("web", Vip4, [B1], toa: ToaFormat.Dpvs));

        Assert.Equal(1400 - 20 - 20 - 8, _datapath.Vips[Vip4].Mss);
        Assert.Equal(PacketAbi.ToaFormat.Dpvs, _datapath.Vips[Vip4].Toa);
    }

    [Fact]
    public void Apply_NoToa_LeavesRoomForHeadersOnly()
    {
        Start(Listener("web", Vip4, [B1], toa: null));

        Assert.Equal(1460, _datapath.Vips[Vip4].Mss);
        Assert.Equal(PacketAbi.ToaFormat.None, _datapath.Vips[Vip4].Toa);
    }

    [Theory]
    [InlineData("203.0.113.9:80", "203.0.113.9 is not an address of this host")]
    [InlineData("127.0.0.1:80", "on the loopback interface only")]
    public void Apply_VipNotServable_RefusedAndNothingChanged(string vip, string message)
    {
        _engine.Prepare(Settings);
        _datapath.Calls.Clear();

        var e = Assert.Throws<PacketEngineException>(() => _engine.Apply([Listener("web", IPEndPoint.Parse(vip), [B1])]));

        Assert.Contains("listener web: ", e.Message);
        Assert.Contains(message, e.Message);
        Assert.Empty(_datapath.Calls);
    }

    [Fact]
    public void Apply_BadListenerBesideGoodOne_RefusesBothWithEveryProblem()
    {
        Start(Listener("web", Vip4, [B1]));
        _datapath.Calls.Clear();

        var e = Assert.Throws<PacketEngineException>(() => _engine.Apply(
        [
            Listener("web", Vip4, [B1, B2]),
            Listener("mixed", Vip6, [B1, IPEndPoint.Parse("[2001:db8:1::5]:80")]),
            Listener("far", IPEndPoint.Parse("192.0.2.1:81"), [IPEndPoint.Parse("198.18.0.1:80")]),
            Listener("named", IPEndPoint.Parse("192.0.2.1:82"), [B1], interfaces: ["eth9"]),
            Listener("46", IPEndPoint.Parse("192.0.2.1:83"), [IPEndPoint.Parse("[2001:db8:1::5]:80")]),
        ]));

        Assert.Contains("listener mixed: the packet engine forwards to IPv4 backends only", e.Message);
        Assert.Contains("listener far: there is no route to backend 198.18.0.1:80", e.Message);
        Assert.Contains("listener named: there is no interface named eth9", e.Message);
        Assert.Contains("listener 46: the packet engine forwards to IPv4 backends only", e.Message);
        Assert.Empty(_datapath.Calls);
    }

    [Fact]
    public void Apply_InterfaceNotForwarding_Refused()
    {
        _network.NotForwarding.Add(("eth1", System.Net.Sockets.AddressFamily.InterNetwork));
        _engine.Prepare(Settings);

        var e = Assert.Throws<PacketEngineException>(() => _engine.Apply([Listener("web", Vip4, [B1])]));

        Assert.Equal("listener web: eth1 does not forward IPv4 (set net.ipv4.conf.eth1.forwarding=1)", e.Message);
    }

    [Fact]
    public void Apply_LocalBackend_Refused()
    {
        _engine.Prepare(Settings);

        var e = Assert.Throws<PacketEngineException>(() => _engine.Apply([Listener("web", Vip4, [IPEndPoint.Parse("10.1.0.1:8080")])]));

        Assert.Contains("backend 10.1.0.1:8080 is an address of this host", e.Message);
    }

    [Fact]
    public void Apply_GivenInterfacesAndSnat_UsesThose()
    {
        _network.RouteTable[B1.Address] = new RouteInfo(3, null, IPAddress.Parse("10.1.0.254"), Local: false);
        _engine.Prepare(Settings);

        _engine.Apply([Listener("web", Vip4, [B1], interfaces: ["eth1"]) with { Snat4 = IPAddress.Parse("10.1.0.100") }]);

        Assert.Equal([3], _datapath.Attached);
        Assert.Equal(IPAddress.Parse("10.1.0.100"), FakeDatapath.SnatOf(_datapath.Backends[0]));
    }

    [Fact]
    public void Apply_RouteWithoutSourceAndNoSnat_Refused()
    {
        _network.RouteTable[B1.Address] = new RouteInfo(3, null, null, Local: false);
        _engine.Prepare(Settings);

        var e = Assert.Throws<PacketEngineException>(() => _engine.Apply([Listener("web", Vip4, [B1])]));

        Assert.Contains("no source address toward backend 10.1.0.11:8080 (set snat)", e.Message);
    }

    [Fact]
    public void Apply_NoBackendTakesConnections_VipRefusesNewOnes()
    {
        Start(Listener("web", Vip4, [B1]));
        var region = _datapath.Vips[Vip4].Region;

        _engine.Apply([Listener("web", Vip4, [B1]) with { Table = [] }]);

        Assert.Equal(0u, _datapath.Vips[Vip4].Backends);
        // The region is free again: the next table may go there.
        _engine.Apply([Listener("web", Vip4, [B1], weights: [0])]);
        Assert.Equal(region, _datapath.Vips[Vip4].Region);
    }

    [Fact]
    public void Apply_ListenerRemoved_StopsNewConnectionsAndDetachesOnceItsConnectionsEnd()
    {
        var other = IPEndPoint.Parse("192.0.2.1:81");
        Start(Listener("web", Vip4, [B1]), Listener("tls", other, [B2], interfaces: ["eth1"]));
        _datapath.AddConnection(IPEndPoint.Parse("198.51.100.7:40000"), Vip4, IPEndPoint.Parse("10.1.0.1:61001"), B1, 0, 0);

        _engine.Apply([Listener("tls", other, [B2], interfaces: ["eth1"])]);

        Assert.False(_datapath.Vips.ContainsKey(Vip4));
        _engine.Sweep();
        Assert.Equal([2, 3], _datapath.Attached);
        Assert.Equal(1, _engine.Counts().Listeners["web"].Active);

        _datapath.FlowTable.Clear();
        _engine.Sweep();
        Assert.Equal([3], _datapath.Attached);
        Assert.False(_engine.Counts().Listeners.ContainsKey("web"));
    }

    [Fact]
    public void Apply_ListenerBack_BeforeItsConnectionsEnd_KeepsItsId()
    {
        Start(Listener("web", Vip4, [B1]), Listener("tls", IPEndPoint.Parse("192.0.2.1:81"), [B2]));
        _datapath.AddConnection(IPEndPoint.Parse("198.51.100.7:40000"), Vip4, IPEndPoint.Parse("10.1.0.1:61001"), B1, 0, 0);
        _engine.Apply([Listener("tls", IPEndPoint.Parse("192.0.2.1:81"), [B2])]);
        _engine.Sweep();

        _engine.Apply([Listener("new", IPEndPoint.Parse("192.0.2.1:82"), [B3]), Listener("web", Vip4, [B1])]);

        Assert.Equal(0u, _datapath.Vips[Vip4].Id);
        Assert.Equal(2u, _datapath.Vips[IPEndPoint.Parse("192.0.2.1:82")].Id);
    }

    [Fact]
    public void Apply_ListenerBackUnchanged_WritesItsVipAgain()
    {
        var idle = Listener("web", Vip4, [B1]) with { Table = [] };
        Start(idle);
        _datapath.AddConnection(IPEndPoint.Parse("198.51.100.7:40000"), Vip4, IPEndPoint.Parse("10.1.0.1:61001"), B1, 0, 0);
        _engine.Apply([]);
        Assert.Empty(_datapath.Vips);

        _engine.Apply([idle]);

        Assert.Equal(0u, _datapath.Vips[Vip4].Backends);
    }

    [Fact]
    public async Task Prepare_ReservesTheRangeBesideOthersAndDisposeGivesItBack()
    {
        _engine.Prepare(Settings);

        Assert.Equal("22,61000-65535\n", File.ReadAllText(Path.Combine(_sysctls, "ip_local_reserved_ports")));
        Assert.Equal((ushort)61000, _datapath.Config!.Value.PortMin);

        await _engine.DisposeAsync();
        Assert.Equal("22\n", File.ReadAllText(Path.Combine(_sysctls, "ip_local_reserved_ports")));
    }

    [Fact]
    public async Task Prepare_NewRange_MovesTheReservationAndKeepsPortsOthersHeld()
    {
        File.WriteAllText(Path.Combine(_sysctls, "ip_local_reserved_ports"), "61000\n");
        _engine.Prepare(Settings);

        _engine.Prepare(Settings with { PortMin = 50000, PortMax = 61000 });

        Assert.Equal("50000-61000\n", File.ReadAllText(Path.Combine(_sysctls, "ip_local_reserved_ports")));
        Assert.Equal((ushort)50000, _datapath.Config!.Value.PortMin);
        await _engine.DisposeAsync();
        Assert.Equal("61000\n", File.ReadAllText(Path.Combine(_sysctls, "ip_local_reserved_ports")));
    }

    [Fact]
    public async Task Prepare_TakingOverPins_GivesTheRangeBackOnAGracefulStop()
    {
        // A killed run reserved the range and left its pins (the directory exists).
        File.WriteAllText(Path.Combine(_sysctls, "ip_local_reserved_ports"), "22,61000-65535\n");
        await using var engine = new FullnatEngine(NullLoggerFactory.Instance, _time, _ => _datapath, _network, new LocalPorts(_sysctls), pinDirectory: _sysctls);
        engine.Prepare(Settings);

        await engine.DisposeAsync();

        Assert.Equal("22\n", File.ReadAllText(Path.Combine(_sysctls, "ip_local_reserved_ports")));
    }

    [Theory]
    [InlineData(0, 100, 200)]
    [InlineData(10, 300, 200)]
    [InlineData(10, 100, 70000)]
    public void Prepare_BadSettings_Refused(int maxConnections, int portMin, int portMax) =>
        Assert.Throws<ArgumentException>(() => _engine.Prepare(new PacketEngineSettings(maxConnections, portMin, portMax)));

    [Fact]
    public void Prepare_DatapathCannotLoad_SaysWhatItNeeds()
    {
        var engine = new FullnatEngine(NullLoggerFactory.Instance, _time, _ => throw new UnauthorizedAccessException("Access to the path '/sys/fs/bpf/toa' is denied."),
            _network, new LocalPorts(_sysctls));

        var e = Assert.Throws<PacketEngineException>(() => engine.Prepare(Settings));

        Assert.StartsWith("the packet engine needs root, or CAP_BPF and CAP_NET_ADMIN", e.Message);
    }

    [Fact]
    public void Prepare_FlowsLeftByAPreviousProcess_TheirListenerAndBackendsGetTheirIdsBack()
    {
        _datapath.AddConnection(IPEndPoint.Parse("198.51.100.7:40000"), Vip4, IPEndPoint.Parse("10.1.0.1:61001"), B2, listener: 5, backendIndex: 9);
        _datapath.ListenerCounters[5][(int)PacketAbi.Counter.Connections] = 3;
        _datapath.ListenerCounters[0][(int)PacketAbi.Counter.Connections] = 7;

        Start(Listener("other", IPEndPoint.Parse("192.0.2.1:81"), [B1]), Listener("web", Vip4, [B1, B2]));

        Assert.Equal(5u, _datapath.Vips[Vip4].Id);
        Assert.Equal(0u, _datapath.Vips[IPEndPoint.Parse("192.0.2.1:81")].Id);
        Assert.Equal(B2, FakeDatapath.EndPointOf(_datapath.Backends[9]));
        var counts = _engine.Counts();
        // Taken over: its counters go on; a fresh id starts from zero whatever its last owner left.
        Assert.Equal(3, counts.Listeners["web"].Connections);
        Assert.Equal(0, counts.Listeners["other"].Connections);
    }

    [Fact]
    public void Counts_MapsIdsAndIndexesBackToNames()
    {
        Start(Listener("web", Vip4, [B1, B2]));
        _datapath.ListenerCounters[0][(int)PacketAbi.Counter.ToaWritten] = 4;
        _datapath.ListenerCounters[0][(int)PacketAbi.Counter.NoRoute] = 1;
        _datapath.BackendCounters[1] = new PacketAbi.BackendCounts { Connections = 2, BytesIn = 10, BytesOut = 20 };
        _datapath.AddConnection(IPEndPoint.Parse("198.51.100.7:40000"), Vip4, IPEndPoint.Parse("10.1.0.1:61001"), B2, 0, 1);
        _engine.Sweep();

        var counts = _engine.Counts();

        Assert.Equal(4, counts.Listeners["web"].ToaWritten);
        Assert.Equal(1, counts.Listeners["web"].NoRoute);
        Assert.Equal(1, counts.Listeners["web"].Active);
        Assert.Equal(new PacketBackendCounts(2, 1, 10, 20), counts.Backends[("web", B2)]);
        Assert.Equal(new PacketBackendCounts(0, 0, 0, 0), counts.Backends[("web", B1)]);
    }

    [Fact]
    public void Sweep_EstablishedConnection_IdlesOutAfterItsListenersIdleTimeout()
    {
        Start(Listener("web", Vip4, [B1]) with { IdleTimeout = TimeSpan.FromSeconds(30) }, Listener("tls", IPEndPoint.Parse("192.0.2.1:81"), [B2]));
        _datapath.AddConnection(IPEndPoint.Parse("198.51.100.7:40000"), Vip4, IPEndPoint.Parse("10.1.0.1:61001"), B1, 0, 0);
        _datapath.AddConnection(IPEndPoint.Parse("198.51.100.7:40001"), IPEndPoint.Parse("192.0.2.1:81"), IPEndPoint.Parse("10.1.0.1:61002"), B2, 1, 1);
        _datapath.Advance(TimeSpan.FromSeconds(31));

        _engine.Sweep();

        Assert.Equal(0, _engine.Counts().Listeners["web"].Active);
        Assert.Equal(1, _engine.Counts().Listeners["tls"].Active);
        Assert.Equal(2, _datapath.FlowTable.Count);
    }

    [Fact]
    public void Timer_EverySecond_Sweeps()
    {
        Start(Listener("web", Vip4, [B1]));
        _datapath.AddConnection(IPEndPoint.Parse("198.51.100.7:40000"), Vip4, IPEndPoint.Parse("10.1.0.1:61001"), B1, 0, 0, PacketAbi.State.Closed);
        _datapath.Advance(TimeSpan.FromSeconds(6));

        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Empty(_datapath.FlowTable);
    }

    [Fact]
    public void Timer_SweepsTakingLong_SpaceOut()
    {
        Start(Listener("web", Vip4, [B1]));
        var sweeps = 0;
        _datapath.Reading = () =>
        {
            sweeps++;
            _time.Advance(TimeSpan.FromMilliseconds(500));
        };

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, sweeps);
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(1, sweeps);
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(2, sweeps);
    }

    [Fact]
    public void Timer_SweepFails_LogsAndSweepsAgainNextTime()
    {
        Start(Listener("web", Vip4, [B1]));
        var failures = 1;
        _datapath.Reading = () =>
        {
            if (failures-- > 0)
                throw new ObjectDisposedException("fn_flows");
        };
        _datapath.AddConnection(IPEndPoint.Parse("198.51.100.7:40000"), Vip4, IPEndPoint.Parse("10.1.0.1:61001"), B1, 0, 0, PacketAbi.State.Closed);
        _datapath.Advance(TimeSpan.FromSeconds(6));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, _datapath.FlowTable.Count);
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Empty(_datapath.FlowTable);
    }

    [Fact]
    public async Task DisposeAsync_GracefulStop_DetachesRemovesPinsAndStopsSweeping()
    {
        Start(Listener("web", Vip4, [B1]));

        await _engine.DisposeAsync();

        Assert.Empty(_datapath.Attached);
        Assert.True(_datapath.Disposed);
        Assert.True(_pinsRemoved);
        _datapath.AddConnection(IPEndPoint.Parse("198.51.100.7:40000"), Vip4, IPEndPoint.Parse("10.1.0.1:61001"), B1, 0, 0, PacketAbi.State.Closed);
        _datapath.Advance(TimeSpan.FromMinutes(1));
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(2, _datapath.FlowTable.Count);
    }
}
