// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Toa.Bpf;
using Toa.Sockets;
using Toa.Testing;
using Toa.Wire;

namespace Toa.Receiver.Tests;

/// <summary>The C# mirror of bpf/receiver.h, structs and enums, against the BTF clang wrote into the embedded objects.</summary>
public class ReceiverAbiTests
{
    private static BpfObject Open() => BpfObject.OpenEmbedded(typeof(ToaReceiver).Assembly, ReceiverAbi.ObjectResource);

    [Fact]
    public void Record_MatchesBtfLayout()
    {
        using var obj = Open();
        BtfLayout.AssertMatches<ReceiverAbi.Record>(obj, "toa_record", new()
        {
            ["client"] = "Client", ["peer"] = "Peer", ["local"] = "Local", ["since_ns"] = "SinceNs",
            ["client_port"] = "ClientPort", ["peer_port"] = "PeerPort", ["local_port"] = "LocalPort",
            ["layout"] = "Layout", ["source"] = "Source", ["flags"] = "Flags",
        });
    }

    [Fact]
    public void Nat64Peer_Is20BytesWithThePortAt16()
    {
        using var obj = Open();
        // The struct Nat64Peer.Parse reads getsockopt's answer with.
        BtfLayout.AssertMatches<ReceiverAbi.Nat64Peer>(obj, "toa_nat64_peer", new() { ["saddr"] = "SAddr", ["sport"] = "SPort" });
        Assert.Equal(ToaSocketOption.Nat64PeerSize, Marshal.SizeOf<ReceiverAbi.Nat64Peer>());
    }

    [Fact]
    public void Config_IsTheOnlyReadOnlyGlobal()
    {
        using var obj = Open();
        BtfLayout.AssertMatches<ReceiverAbi.Config>(obj, "toa_receiver_config", new()
        {
            ["formats"] = "Formats", ["nat64_peer"] = "Nat64Peer", ["trust_enabled"] = "TrustEnabled", ["set_retval"] = "SetRetval",
            ["netns_scoped"] = "NetnsScoped", ["conns"] = "Conns",
        });
        // status reads the pinned .rodata map as this struct.
        Assert.Equal((0, Marshal.SizeOf<ReceiverAbi.Config>()), obj.Btf.DataSectionVariable(".rodata", ReceiverAbi.ConfigVariable));
    }

    [Fact]
    public void FlowKey_MatchesBtfLayout()
    {
        using var obj = Open();
        // The connections map's key, which toa table reads.
        BtfLayout.AssertMatches<ReceiverAbi.FlowKey>(obj, "toa_flow_key", new()
        {
            ["local"] = "Local", ["remote"] = "Remote", ["local_port"] = "LocalPort", ["remote_port"] = "RemotePort", ["netns"] = "Netns",
        });
    }

    [Fact]
    public void Conn_MatchesBtfLayoutIn32Bytes()
    {
        using var obj = Open();
        BtfLayout.AssertMatches<ReceiverAbi.Conn>(obj, "toa_conn", new()
        {
            ["client"] = "Client", ["since_ns"] = "SinceNs", ["client_port"] = "ClientPort", ["layout"] = "Layout", ["source"] = "Source",
            ["flags"] = "Flags",
        });
        // Key (40) and value (32) beside the kernel's 48 bytes of element and the allocator's 8: one 128-byte slab object.
        Assert.Equal(32, Marshal.SizeOf<ReceiverAbi.Conn>());
        Assert.Equal(40, Marshal.SizeOf<ReceiverAbi.FlowKey>());
    }

    [Fact]
    public void TrustKey_MatchesBtfLayout()
    {
        using var obj = Open();
        BtfLayout.AssertMatches<ReceiverAbi.TrustKey>(obj, "toa_trust_key", new() { ["prefixlen"] = "PrefixLength", ["addr"] = "Address" });
    }

    [Fact]
    public void Stats_FieldsAreInTheMirrorsOrder()
    {
        using var obj = Open();
        var btf = obj.Btf.Struct("toa_stats");

        Assert.Equal(btf.Size, Marshal.SizeOf<ReceiverAbi.Stats>());
        Assert.Equal(ReceiverAbi.StatsFields, btf.Members.OrderBy(m => m.Value.Offset).Select(m => m.Key));
        Assert.Equal(ReceiverAbi.StatsFields.Take(ReceiverCounters.ModuleCounters),
            ["syn_recv_sock_toa", "syn_recv_sock_no_toa", "getname_toa_ok", "getname_toa_mismatch", "getname_toa_empty",
             "ip6_address_alloc", "ip6_address_free"]);
    }

    [Fact]
    public void ParseResult_MatchesBtfLayout()
    {
        using var obj = BpfObject.OpenEmbedded(typeof(ToaReceiver).Assembly, ReceiverAbi.ParserTestResource);
        BtfLayout.AssertMatches<ReceiverAbi.ParseResult>(obj, "toa_parse_result", new()
        {
            ["client"] = "Client", ["port"] = "Port", ["layout"] = "Layout", ["verdict"] = "Verdict",
        });
    }

    [Fact]
    public void TraceEvent_MatchesBtfLayout()
    {
        using var obj = Open();
        BtfLayout.AssertMatches<ReceiverAbi.TraceEvent>(obj, "toa_trace_event", new()
        {
            ["time_ns"] = "TimeNs", ["local"] = "Local", ["remote"] = "Remote", ["local_port"] = "LocalPort",
            ["remote_port"] = "RemotePort", ["packet"] = "Packet", ["outcome"] = "Outcome", ["toa"] = "Toa",
        });
    }

    [Fact]
    public void TraceState_IsTheWholeTraceSection()
    {
        using var obj = Open();
        BtfLayout.AssertMatches<ReceiverAbi.TraceState>(obj, "toa_trace_state", new() { ["enabled"] = "Enabled", ["lost"] = "Lost" });
        // The switch is the pinned section's one value: toa log reads and writes it as this struct.
        Assert.Equal((0, Marshal.SizeOf<ReceiverAbi.TraceState>()), obj.Btf.DataSectionVariable(ReceiverAbi.TraceSection, ReceiverAbi.TraceVariable));
    }

    [Fact]
    public void Objects_HaveTheNamedProgramsAndMaps()
    {
        using var obj = Open();

        foreach (var program in new[] { ReceiverAbi.SockOps, ReceiverAbi.GetPeerName4, ReceiverAbi.GetPeerName6, ReceiverAbi.GetSockOpt })
            Assert.NotNull(obj.Program(program));
        foreach (var map in new[] { ReceiverAbi.RecordsMap, ReceiverAbi.StatsMap, ReceiverAbi.ParkedMap, ReceiverAbi.TrustMap, ReceiverAbi.EventsMap, ReceiverAbi.TraceSection })
            Assert.NotNull(obj.Map(map));
        Assert.Equal(8, obj.Btf.DataSectionVariable(".bss", ReceiverAbi.ParkedCountVariable).Size);
    }

    [Fact]
    public void Layout_MatchesBtfEnum()
    {
        using var obj = Open();
        BtfLayout.AssertEnumMatches(obj, "toa_layout", new Dictionary<string, ToaLayout>
        {
            ["TOA_LAYOUT_TENCENT4"] = ToaLayout.Tencent4, ["TOA_LAYOUT_TENCENT6"] = ToaLayout.Tencent6,
            ["TOA_LAYOUT_DPVS4"] = ToaLayout.Dpvs4, ["TOA_LAYOUT_DPVS6"] = ToaLayout.Dpvs6,
            ["TOA_LAYOUT_ALIBABA_CDN4"] = ToaLayout.AlibabaCdn4, ["TOA_LAYOUT_ALIBABA_CDN6"] = ToaLayout.AlibabaCdn6,
            ["TOA_LAYOUT_UCLOUD4"] = ToaLayout.UCloud4,
        });
    }

    [Fact]
    public void LayoutSets_MatchBtfEnum()
    {
        using var obj = Open();
        // The C names two sets; the C# also has one per layout, 1 << layout, which the layout check covers.
        Assert.Equal(new Dictionary<string, long>
        {
            ["TOA_LAYOUTS_DEFAULT"] = (long)ToaLayouts.Default, ["TOA_LAYOUTS_ALL"] = (long)ToaLayouts.All,
        }, obj.Btf.Enum("toa_layouts").Values);
    }

    [Fact]
    public void Verdict_MatchesBtfEnum()
    {
        using var obj = Open();
        BtfLayout.AssertEnumMatches(obj, "toa_verdict", new Dictionary<string, ToaVerdict>
        {
            ["TOA_VERDICT_NONE"] = ToaVerdict.None, ["TOA_VERDICT_FOUND"] = ToaVerdict.Found, ["TOA_VERDICT_MALFORMED"] = ToaVerdict.Malformed,
        });
    }

    [Fact]
    public void Source_MatchesBtfEnum()
    {
        using var obj = Open();
        BtfLayout.AssertEnumMatches(obj, "toa_source", new Dictionary<string, ToaSource>
        {
            ["TOA_FROM_ACK"] = ToaSource.Ack, ["TOA_FROM_SYN"] = ToaSource.Syn, ["TOA_FROM_DATA"] = ToaSource.Data,
        });
    }

    [Fact]
    public void Nat64PeerMode_MatchesBtfEnum()
    {
        using var obj = Open();
        BtfLayout.AssertEnumMatches(obj, "toa_nat64_peer_mode", new Dictionary<string, Nat64PeerMode>
        {
            ["TOA_NAT64_PEER_REAL"] = Nat64PeerMode.Real, ["TOA_NAT64_PEER_SNAT"] = Nat64PeerMode.Snat,
        });
    }

    [Fact]
    public void TraceOutcome_MatchesBtfEnum()
    {
        using var obj = Open();
        BtfLayout.AssertEnumMatches(obj, "toa_trace_outcome", new Dictionary<string, TraceOutcome>
        {
            ["TOA_TRACE_TAKEN"] = TraceOutcome.Taken, ["TOA_TRACE_PARKED"] = TraceOutcome.Parked, ["TOA_TRACE_ABSENT"] = TraceOutcome.Absent,
            ["TOA_TRACE_MALFORMED"] = TraceOutcome.Malformed, ["TOA_TRACE_UNTRUSTED"] = TraceOutcome.Untrusted,
            ["TOA_TRACE_UNHONOURED"] = TraceOutcome.Unhonoured, ["TOA_TRACE_FOREIGN_NETNS"] = TraceOutcome.ForeignNetns,
        });
    }

    [Fact]
    public void SocketOptions_MatchBtfEnum()
    {
        using var obj = Open();
        Assert.Equal(new Dictionary<string, long>
        {
            ["TOA_SO_GET_LOOKUP"] = ToaSocketOption.GetLookup, ["TOA_SO_GET_RECORD"] = ToaSocketOption.GetRecord,
        }, obj.Btf.Enum("toa_sockopt").Values);
    }

    [Fact]
    public void Btf_EnumNamesItsEnumeratorsAndSize()
    {
        using var obj = Open();
        var verdict = obj.Btf.Enum("toa_verdict");

        Assert.Equal(("toa_verdict", 4), (verdict.Name, verdict.Size));
        Assert.Equal(3, verdict.Values.Count);
        // A struct of that name is not an enum, nor is a name the object lacks.
        Assert.Throws<KeyNotFoundException>(() => obj.Btf.Enum("toa_record"));
        Assert.Throws<KeyNotFoundException>(() => obj.Btf.Enum("toa_no_such_enum"));
    }
}
