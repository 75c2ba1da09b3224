// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Testing;

namespace Toa.Balancer.Packet.Tests;

/// <summary>The C# mirror of bpf/fullnat.h against the BTF clang wrote into the embedded object.</summary>
public class PacketAbiTests
{
    private static BpfObject Open() => BpfObject.OpenEmbedded(typeof(PacketAbi).Assembly, PacketAbi.ObjectResource);

    [Fact]
    public void Structs_MatchBtfLayout()
    {
        using var obj = Open();
        BtfLayout.AssertMatches<PacketAbi.Flow>(obj, "fn_flow", new()
        {
            ["saddr"] = "SAddr", ["daddr"] = "DAddr", ["sport"] = "SPort", ["dport"] = "DPort", ["family"] = "Family",
        });
        BtfLayout.AssertMatches<PacketAbi.VipKey>(obj, "fn_vip_key", new() { ["addr"] = "Addr", ["port"] = "Port", ["family"] = "Family" });
        BtfLayout.AssertMatches<PacketAbi.Vip>(obj, "fn_vip", new()
        {
            ["id"] = "Id", ["region"] = "Region", ["backends"] = "Backends", ["mss"] = "Mss", ["toa"] = "Toa", ["flags"] = "Flags",
        });
        BtfLayout.AssertMatches<PacketAbi.Backend>(obj, "fn_backend", new()
        {
            ["addr"] = "Addr", ["snat"] = "Snat", ["port"] = "Port", ["family"] = "Family", ["listener"] = "Listener",
        });
        BtfLayout.AssertMatches<PacketAbi.Config>(obj, "fn_config", new() { ["port_min"] = "PortMin", ["port_max"] = "PortMax" });
        BtfLayout.AssertMatches<PacketAbi.Conn>(obj, "fn_conn", new()
        {
            ["rewrite"] = "Rewrite", ["last_seen"] = "LastSeen", ["client_isn"] = "ClientIsn", ["backend"] = "Backend",
            ["listener"] = "Listener", ["state"] = "State", ["flags"] = "Flags", ["toa_len"] = "ToaLength", ["toa"] = "Toa",
        });
        BtfLayout.AssertMatches<PacketAbi.Counts>(obj, "fn_counts", new() { ["values"] = "Values" });
        BtfLayout.AssertMatches<PacketAbi.BackendCounts>(obj, "fn_backend_counts", new()
        {
            ["connections"] = "Connections", ["bytes_in"] = "BytesIn", ["bytes_out"] = "BytesOut",
        });
    }

    [Fact]
    public void Object_HasTheNamedProgramAndMaps()
    {
        using var obj = Open();
        Assert.NotNull(obj.Program(PacketAbi.Program));
        foreach (var map in new[] { PacketAbi.VipsMap, PacketAbi.BackendsMap, PacketAbi.TablesMap, PacketAbi.ConfigMap, PacketAbi.FlowsMap, PacketAbi.ListenerCountsMap, PacketAbi.BackendCountsMap })
            Assert.NotNull(obj.Map(map));
        Assert.Equal((uint)(PacketAbi.TableRegions * PacketAbi.TableSize), obj.Map(PacketAbi.TablesMap).MaxEntries);
        Assert.Equal((uint)PacketAbi.MaxListeners, obj.Map(PacketAbi.ListenerCountsMap).MaxEntries);
        Assert.Equal((uint)PacketAbi.MaxBackends, obj.Map(PacketAbi.BackendsMap).MaxEntries);
    }
}
