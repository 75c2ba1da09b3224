// SPDX-License-Identifier: MIT
using System.Net;

namespace Toa.Balancer.Packet.Tests;

/// <summary>The datapath's maps in memory, with every write logged in order.</summary>
internal sealed class FakeDatapath : IFullnatDatapath
{
    private readonly HashSet<int> _attached = [];

    public List<string> Calls { get; } = [];
    public Dictionary<IPEndPoint, PacketAbi.Vip> Vips { get; } = [];
    public Dictionary<uint, PacketAbi.Backend> Backends { get; } = [];
    public Dictionary<uint, uint[]> Tables { get; } = [];
    public PacketAbi.Config? Config { get; private set; }
    public Dictionary<PacketAbi.Flow, PacketAbi.Conn> FlowTable { get; } = new(FlowComparer.Instance);
    public long[][] ListenerCounters { get; } = [.. Enumerable.Range(0, PacketAbi.MaxListeners).Select(_ => new long[PacketAbi.CounterCount])];
    public PacketAbi.BackendCounts[] BackendCounters { get; } = new PacketAbi.BackendCounts[PacketAbi.MaxBackends];
    public ulong Clock { get; set; } = 1_000_000_000_000;
    public bool Disposed { get; private set; }

    public void Attach(int ifindex)
    {
        Calls.Add($"attach {ifindex}");
        _attached.Add(ifindex);
    }

    public void Detach(int ifindex)
    {
        Calls.Add($"detach {ifindex}");
        _attached.Remove(ifindex);
    }

    public IReadOnlyList<int> Attached => [.. _attached.Order()];

    public void SetConfig(in PacketAbi.Config config)
    {
        Calls.Add($"config {config.PortMin}-{config.PortMax}");
        Config = config;
    }

    public void SetVip(in PacketAbi.VipKey key, in PacketAbi.Vip vip)
    {
        var endPoint = EndPointOf(key);
        Calls.Add($"vip {endPoint} region {vip.Region}");
        Vips[endPoint] = vip;
    }

    public void RemoveVip(in PacketAbi.VipKey key)
    {
        var endPoint = EndPointOf(key);
        Calls.Add($"remove vip {endPoint}");
        Vips.Remove(endPoint);
    }

    public void SetBackend(uint index, in PacketAbi.Backend backend)
    {
        Calls.Add($"backend {index}");
        Backends[index] = backend;
    }

    public void SetTable(uint region, ReadOnlySpan<uint> slots)
    {
        Calls.Add($"table {region}");
        Tables[region] = slots.ToArray();
    }

    /// <summary>Runs whenever the flows are read (a test's clock may move there, as a long walk would take).</summary>
    public Action? Reading { get; set; }

    public IEnumerable<(PacketAbi.Flow Key, PacketAbi.Conn Value)> Flows()
    {
        Reading?.Invoke();
        (PacketAbi.Flow, PacketAbi.Conn)[] read = [.. FlowTable.Select(e => (e.Key, e.Value))];
        AfterReading?.Invoke();
        return read;
    }

    public bool TryFlow(in PacketAbi.Flow key, out PacketAbi.Conn conn) => FlowTable.TryGetValue(key, out conn);

    /// <summary>Runs once the flows have been read, before anything is deleted: what the datapath does meanwhile.</summary>
    public Action? AfterReading { get; set; }

    public int DeleteFlows(ReadOnlySpan<PacketAbi.Flow> keys, Span<bool> deleted)
    {
        var count = 0;
        for (var i = 0; i < keys.Length; i++)
            count += (deleted[i] = FlowTable.Remove(keys[i])) ? 1 : 0;
        return count;
    }

    public long[] ListenerCounts(uint id) => [.. ListenerCounters[id]];

    public PacketAbi.BackendCounts BackendCounts(uint index) => BackendCounters[index];

    public ulong Now() => Clock;

    public void Dispose() => Disposed = true;

    public void Advance(TimeSpan time) => Clock += (ulong)(time.Ticks * 100);

    /// <summary>A connection as the datapath makes it: its client-side and backend-side entries.</summary>
    public (PacketAbi.Flow Forward, PacketAbi.Flow Reverse) AddConnection(IPEndPoint client, IPEndPoint vip, IPEndPoint snat, IPEndPoint backend,
        uint listener, uint backendIndex, PacketAbi.State state = PacketAbi.State.Established)
    {
        var forward = Flow(client, vip);
        var toBackend = Flow(snat, backend);
        var reverse = AbiAddresses.Reverse(toBackend);
        FlowTable[forward] = new PacketAbi.Conn
        {
            Rewrite = toBackend, LastSeen = Clock, Backend = backendIndex, Listener = listener, State = state, Flags = PacketAbi.ConnForward,
        };
        FlowTable[reverse] = new PacketAbi.Conn
        {
            Rewrite = AbiAddresses.Reverse(forward), LastSeen = Clock, Backend = backendIndex, Listener = listener, State = state,
        };
        return (forward, reverse);
    }

    public void Touch(PacketAbi.Flow key)
    {
        var conn = FlowTable[key];
        conn.LastSeen = Clock;
        FlowTable[key] = conn;
    }

    public static unsafe PacketAbi.Flow Flow(IPEndPoint source, IPEndPoint destination)
    {
        var flow = new PacketAbi.Flow
        {
            SPort = AbiAddresses.Port(source.Port),
            DPort = AbiAddresses.Port(destination.Port),
            Family = AbiAddresses.Family(source.Address),
        };
        AbiAddresses.Write(source.Address, flow.SAddr);
        AbiAddresses.Write(destination.Address, flow.DAddr);
        return flow;
    }

    public static unsafe IPEndPoint EndPointOf(PacketAbi.VipKey key) => new(AbiAddresses.Read(key.Addr, key.Family), AbiAddresses.Port(key.Port));

    public static unsafe IPEndPoint EndPointOf(PacketAbi.Backend backend) => new(AbiAddresses.Read(backend.Addr, backend.Family), AbiAddresses.Port(backend.Port));

    public static unsafe IPAddress SnatOf(PacketAbi.Backend backend) => AbiAddresses.Read(backend.Snat, backend.Family);
}

/// <summary>A balancer host's interfaces, addresses and routes, as a test says they are.</summary>
internal sealed class FakeNetwork : INetworkTables
{
    public List<LinkInfo> LinkList { get; } =
    [
        new(1, "lo", 65536, Loopback: true),
        new(2, "eth0", 1500, Loopback: false),
        new(3, "eth1", 1500, Loopback: false),
    ];

    public List<LocalAddress> AddressList { get; } =
    [
        new(1, IPAddress.Loopback),
        new(2, IPAddress.Parse("192.0.2.1")),
        new(2, IPAddress.Parse("2001:db8::1")),
        new(3, IPAddress.Parse("10.1.0.1")),
    ];

    /// <summary>Routes by destination; 10.1.0.0/24 is on eth1 unless a test says otherwise.</summary>
    public Dictionary<IPAddress, RouteInfo> RouteTable { get; } = [];

    /// <summary>Interfaces that do not forward (every other one does).</summary>
    public HashSet<(string Name, System.Net.Sockets.AddressFamily Family)> NotForwarding { get; } = [];

    public IReadOnlyList<LinkInfo> Links() => LinkList;

    public bool Forwards(string name, System.Net.Sockets.AddressFamily family) => !NotForwarding.Contains((name, family));

    public IReadOnlyList<LocalAddress> Addresses() => AddressList;

    public RouteInfo? RouteTo(IPAddress destination)
    {
        if (RouteTable.TryGetValue(destination, out var route))
            return route;
        if (AddressList.Any(a => a.Address.Equals(destination)))
            return new RouteInfo(1, destination, null, Local: true);
        var bytes = destination.GetAddressBytes();
        return bytes is [10, 1, 0, _] ? new RouteInfo(3, IPAddress.Parse("10.1.0.1"), null, Local: false) : null;
    }
}
