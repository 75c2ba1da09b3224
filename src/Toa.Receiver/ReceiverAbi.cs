// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Receiver;

/// <summary>
/// The C# mirror of bpf/receiver.h and the names in bpf/receiver.bpf.c and
/// bpf/tcp_options_test.bpf.c. A test checks it against the objects' BTF. The structs a server
/// reads without the receiver's assembly (struct toa_record, struct toa_nat64_peer) are mirrored
/// where it reads them, in Toa.Sockets, and checked by the same test.
/// </summary>
internal static class ReceiverAbi
{
    public const string ObjectResource = "receiver.bpf.o";
    public const string ParserTestResource = "tcp_options_test.bpf.o";

    public const string SockOps = "toa_sockops";
    public const string GetPeerName4 = "toa_getpeername4";
    public const string GetPeerName6 = "toa_getpeername6";
    public const string GetSockOpt = "toa_getsockopt";
    public const string ParseFixtureProgram = "toa_parse_fixture";

    public const string RecordsMap = "toa_records";
    public const string ConnsMap = "toa_conns";
    public const string StatsMap = "toa_stats";
    public const string ParkedMap = "toa_parked";
    public const string TrustMap = "toa_trust";
    public const string NetnsMap = "toa_netns";
    public const string ConfigVariable = "toa_config";
    public const string ParkedCountVariable = "toa_parked_count";
    public const string EventsMap = "toa_events";
    public const string TraceVariable = "toa_trace";
    public const string TraceSection = ".data.trace";

    /// <summary>struct toa_parse_result.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct ParseResult
    {
        public fixed byte Client[16];
        public ushort Port;
        public byte Layout;
        public byte Verdict;
    }

    /// <summary>struct toa_parse_fixture; the header follows as 64 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct ParseFixture
    {
        public uint Formats;
        public uint HeaderLen;
        public ParseResult Result;
        public fixed byte Header[64];
    }

    /// <summary>struct toa_receiver_config.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Config
    {
        public uint Formats;
        public uint Nat64Peer;
        public uint TrustEnabled;
        public uint SetRetval;
        public uint NetnsScoped;
        public uint Conns;
    }

    /// <summary>struct toa_flow_key: the key of the parked and connections maps.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct FlowKey
    {
        public fixed byte Local[16];
        public fixed byte Remote[16];
        public ushort LocalPort;  // host order
        public ushort RemotePort; // network order
        public uint Netns;
    }

    /// <summary>struct toa_conn: a record in the connections map.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Conn
    {
        public fixed byte Client[16];
        public ulong SinceNs;
        public ushort ClientPort;
        public byte Layout;
        public byte Source;
        public byte Flags;
        private fixed byte _pad[3];
    }

    /// <summary>struct toa_trust_key.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct TrustKey
    {
        public uint PrefixLength;
        public fixed byte Address[16];
    }

    /// <summary>struct toa_trace_state: the trace's switch and its count of lost events.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TraceState
    {
        public uint Enabled;
        private uint _pad;
        public ulong Lost;
    }

    /// <summary>struct toa_trace_event: one ring buffer record.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct TraceEvent
    {
        public ulong TimeNs;
        public fixed byte Local[16];
        public fixed byte Remote[16];
        public ushort LocalPort;
        public ushort RemotePort;
        public byte Packet;
        public byte Outcome;
        private fixed byte _pad[2];
        public ParseResult Toa;
    }

    /// <summary>The fields of struct toa_stats, in order: every one is a per-CPU u64.</summary>
    public static readonly string[] StatsFields =
    [
        "syn_recv_sock_toa", "syn_recv_sock_no_toa", "getname_toa_ok", "getname_toa_mismatch", "getname_toa_empty",
        "ip6_address_alloc", "ip6_address_free",
        "toa_from_syn", "toa_from_data", "toa_malformed", "toa_untrusted", "getname_toa_bypass",
        "toa_foreign_netns", "toa_parse_busy", "toa_parked_evicted", "toa_conns_full",
    ];

    /// <summary>struct toa_stats, as one per-CPU value.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Stats
    {
        public fixed ulong Values[16];
    }
}
