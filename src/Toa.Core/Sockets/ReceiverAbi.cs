// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;

namespace Toa.Sockets;

/// <summary>Which packet carried the TOA a connection holds (enum toa_source).</summary>
public enum ToaSource
{
    /// <summary>The ACK that completes the handshake (where toa.ko looks).</summary>
    Ack = 1,
    /// <summary>The SYN (the handshake ACK had none).</summary>
    Syn = 2,
    /// <summary>The first data segment (the handshake had none).</summary>
    Data = 3,
}

/// <summary>
/// The receiver's kernel/user contract, byte for byte: the C# mirror of bpf/receiver.h, the names
/// in bpf/receiver.bpf.c and bpf/tcp_options_test.bpf.c, and the pins <c>toa load</c> makes. The
/// loader (Toa.Receiver) and the readers here (<see cref="ReceiverRecords"/>, <see cref="ToaConnection"/>,
/// <see cref="Toa.Sockets.Nat64Peer"/>) share it. A test checks every struct here, and every enum
/// mirrored (<see cref="Toa.Wire.ToaLayout"/>, <see cref="Toa.Wire.ToaLayouts"/>, <see cref="Toa.Wire.ToaVerdict"/>,
/// <see cref="ToaSource"/>, the socket options of <see cref="ToaSocketOption"/>, and the loader's
/// trace outcomes and NAT64 peer modes), against the BTF of the receiver's object. Addresses are
/// 16 bytes with IPv4 as ::ffff:a.b.c.d; ports are in network order unless said otherwise.
/// Applications want <see cref="RealClientResolver"/>, not this.
/// </summary>
public static class ReceiverAbi
{
    /// <summary>The receiver's object, as the loader's assembly embeds it.</summary>
    public const string ObjectResource = "receiver.bpf.o";

    /// <summary>The option parser's test object (an XDP entry that BPF_PROG_TEST_RUN drives).</summary>
    public const string ParserTestResource = "tcp_options_test.bpf.o";

    /// <summary>The sock_ops program: reads TOAs and keeps records.</summary>
    public const string SockOps = "toa_sockops";

    /// <summary>The cgroup/getpeername4 program.</summary>
    public const string GetPeerName4 = "toa_getpeername4";

    /// <summary>The cgroup/getpeername6 program.</summary>
    public const string GetPeerName6 = "toa_getpeername6";

    /// <summary>The cgroup/getsockopt program: answers <see cref="ToaSocketOption.GetLookup"/> and <see cref="ToaSocketOption.GetRecord"/>.</summary>
    public const string GetSockOpt = "toa_getsockopt";

    /// <summary>The parser test object's program.</summary>
    public const string ParseFixtureProgram = "toa_parse_fixture";

    /// <summary>Socket storage of <see cref="Record"/>s, keyed by socket.</summary>
    public const string RecordsMap = "toa_records";

    /// <summary>The connections map: <see cref="FlowKey"/> to <see cref="Conn"/>.</summary>
    public const string ConnsMap = "toa_conns";

    /// <summary>The per-CPU <see cref="Stats"/>.</summary>
    public const string StatsMap = "toa_stats";

    /// <summary>SYN-borne TOAs waiting for their handshake, by <see cref="FlowKey"/>.</summary>
    public const string ParkedMap = "toa_parked";

    /// <summary>The trusted networks: an LPM trie of <see cref="TrustKey"/>.</summary>
    public const string TrustMap = "toa_trust";

    /// <summary>The network namespaces honoured, by inode number.</summary>
    public const string NetnsMap = "toa_netns";

    /// <summary>The load-time settings (<see cref="Config"/>), the only variable in .rodata.</summary>
    public const string ConfigVariable = "toa_config";

    /// <summary>How many SYN TOAs are parked (a u64 in .bss).</summary>
    public const string ParkedCountVariable = "toa_parked_count";

    /// <summary>The trace's ring buffer of <see cref="TraceEvent"/>s.</summary>
    public const string EventsMap = "toa_events";

    /// <summary>The trace's switch (<see cref="TraceState"/>), alone in <see cref="TraceSection"/>.</summary>
    public const string TraceVariable = "toa_trace";

    /// <summary>The data section that holds <see cref="TraceVariable"/>.</summary>
    public const string TraceSection = ".data.trace";

    /// <summary>The names of the pins under a receiver's pin directory.</summary>
    public static class Pins
    {
        /// <summary>Where <c>toa load</c> pins by default.</summary>
        public const string DefaultDirectory = "/sys/fs/bpf/toa";

        /// <summary><see cref="RecordsMap"/>, mode 0644: a server reads its own socket's record without root.</summary>
        public const string Records = "records";

        /// <summary><see cref="ConnsMap"/>.</summary>
        public const string Conns = "connections";

        /// <summary><see cref="StatsMap"/>, mode 0644.</summary>
        public const string Stats = "stats";

        /// <summary><see cref="ParkedMap"/>.</summary>
        public const string Parked = "parked";

        /// <summary>The .bss section (<see cref="ParkedCountVariable"/>).</summary>
        public const string ParkedCount = "parked-count";

        /// <summary><see cref="TrustMap"/>.</summary>
        public const string Trust = "trust";

        /// <summary><see cref="NetnsMap"/>.</summary>
        public const string Netns = "netns";

        /// <summary>The .rodata section (<see cref="Config"/>).</summary>
        public const string Config = "config";

        /// <summary><see cref="TraceSection"/>.</summary>
        public const string Trace = "trace";

        /// <summary><see cref="EventsMap"/>.</summary>
        public const string TraceEvents = "trace-events";
    }

    /// <summary>An address as the structs hold it; <paramref name="v4"/> null means "IPv4 when mapped".</summary>
    public static IPAddress Address(ReadOnlySpan<byte> bytes, bool? v4 = null)
    {
        var address = new IPAddress(bytes);
        return (v4 ?? address.IsIPv4MappedToIPv6) ? address.MapToIPv4() : address;
    }

    /// <summary>A port in network order, as a number.</summary>
    public static int Port(ushort networkOrder) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(networkOrder) : networkOrder;

    /// <summary>
    /// struct toa_record: what the receiver keeps for one connection that carried a TOA, as socket
    /// storage holds it and <see cref="ToaSocketOption.GetRecord"/> answers it.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Record
    {
        /// <summary>The real client.</summary>
        public fixed byte Client[16];
        /// <summary>The connection's peer: the SNAT or load-balancer address.</summary>
        public fixed byte Peer[16];
        /// <summary>The connection's local address.</summary>
        public fixed byte Local[16];
        /// <summary>CLOCK_MONOTONIC when recorded, in nanoseconds.</summary>
        public ulong SinceNs;
        /// <summary>The client's port (the peer's for layouts without one).</summary>
        public ushort ClientPort;
        /// <summary>The peer's port.</summary>
        public ushort PeerPort;
        /// <summary>The local port.</summary>
        public ushort LocalPort;
        /// <summary>A <see cref="Toa.Wire.ToaLayout"/>.</summary>
        public byte Layout;
        /// <summary>A <see cref="ToaSource"/>.</summary>
        public byte Source;
        /// <summary>TOA_RECORD_* flags, the receiver's own bookkeeping.</summary>
        public byte Flags;
        private fixed byte _pad[7];
    }

    /// <summary>struct toa_nat64_peer: the answer to <see cref="ToaSocketOption.GetLookup"/>, <see cref="ToaSocketOption.Nat64PeerSize"/> bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Nat64Peer
    {
        /// <summary>The client's IPv6 address.</summary>
        public fixed byte SAddr[16];
        /// <summary>The client's port.</summary>
        public ushort SPort;
        private fixed byte _pad[2];
    }

    /// <summary>struct toa_flow_key: a connection by 4-tuple, the key of the parked and connections maps.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct FlowKey
    {
        /// <summary>The local address.</summary>
        public fixed byte Local[16];
        /// <summary>The remote address (the peer).</summary>
        public fixed byte Remote[16];
        /// <summary>The local port, in host order (as bpf_sock_ops gives it).</summary>
        public ushort LocalPort;
        /// <summary>The remote port.</summary>
        public ushort RemotePort;
        /// <summary>Connections map: the low half of the socket's network namespace cookie; parked map: 0.</summary>
        public uint Netns;
    }

    /// <summary>struct toa_conn: a record in the connections map, less what its <see cref="FlowKey"/> says.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Conn
    {
        /// <summary>As <see cref="Record.Client"/>.</summary>
        public fixed byte Client[16];
        /// <summary>As <see cref="Record.SinceNs"/>.</summary>
        public ulong SinceNs;
        /// <summary>As <see cref="Record.ClientPort"/>.</summary>
        public ushort ClientPort;
        /// <summary>As <see cref="Record.Layout"/>.</summary>
        public byte Layout;
        /// <summary>As <see cref="Record.Source"/>.</summary>
        public byte Source;
        /// <summary>As <see cref="Record.Flags"/>.</summary>
        public byte Flags;
        private fixed byte _pad[3];
    }

    /// <summary>struct toa_parse_result: the option parser's answer.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct ParseResult
    {
        /// <summary>The client the TOA carries.</summary>
        public fixed byte Client[16];
        /// <summary>Its port; 0 for layouts without one.</summary>
        public ushort Port;
        /// <summary>A <see cref="Toa.Wire.ToaLayout"/>, when <see cref="Verdict"/> is found.</summary>
        public byte Layout;
        /// <summary>A <see cref="Toa.Wire.ToaVerdict"/>.</summary>
        public byte Verdict;
    }

    /// <summary>struct toa_parse_fixture: the parser test program's packet; the TCP header follows as 64 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct ParseFixture
    {
        /// <summary>The <see cref="Toa.Wire.ToaLayouts"/> honoured.</summary>
        public uint Formats;
        /// <summary>The bytes of <see cref="Header"/> that exist.</summary>
        public uint HeaderLen;
        /// <summary>Where the program writes its result.</summary>
        public ParseResult Result;
        /// <summary>The TCP header parsed.</summary>
        public fixed byte Header[64];
    }

    /// <summary>struct toa_receiver_config: the load-time settings, the pinned .rodata.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Config
    {
        /// <summary>The <see cref="Toa.Wire.ToaLayouts"/> honoured.</summary>
        public uint Formats;
        /// <summary>enum toa_nat64_peer_mode: getpeername() on AF_INET6 sockets of NAT64 connections.</summary>
        public uint Nat64Peer;
        /// <summary>1: only peers in the trust map are believed.</summary>
        public uint TrustEnabled;
        /// <summary>1: getsockopt programs may return an errno (5.18+).</summary>
        public uint SetRetval;
        /// <summary>1: only sockets in the network namespaces of the netns map honour a TOA.</summary>
        public uint NetnsScoped;
        /// <summary>1: records go to the connections map first.</summary>
        public uint Conns;
    }

    /// <summary>struct toa_trust_key: an LPM trie key, IPv4 networks as ::ffff:0:0/96 plus their prefix.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct TrustKey
    {
        /// <summary>The prefix length, in bits of the 16-byte address.</summary>
        public uint PrefixLength;
        /// <summary>The network's address.</summary>
        public fixed byte Address[16];
    }

    /// <summary>struct toa_trace_state: the trace's switch and its count of lost events.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TraceState
    {
        /// <summary>1: events go to the ring buffer.</summary>
        public uint Enabled;
        private uint _pad;
        /// <summary>Events dropped because the ring buffer was full.</summary>
        public ulong Lost;
    }

    /// <summary>struct toa_trace_event: one ring buffer record.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct TraceEvent
    {
        /// <summary>CLOCK_MONOTONIC, in nanoseconds.</summary>
        public ulong TimeNs;
        /// <summary>The connection's local address.</summary>
        public fixed byte Local[16];
        /// <summary>The connection's peer: the SNAT or load-balancer address.</summary>
        public fixed byte Remote[16];
        /// <summary>The local port.</summary>
        public ushort LocalPort;
        /// <summary>The peer's port.</summary>
        public ushort RemotePort;
        /// <summary>The <see cref="ToaSource"/> packet the event is about.</summary>
        public byte Packet;
        /// <summary>enum toa_trace_outcome.</summary>
        public byte Outcome;
        private fixed byte _pad[2];
        /// <summary>The option read, for outcomes that have one; else zeros.</summary>
        public ParseResult Toa;
    }

    /// <summary>The fields of struct toa_stats, in order: every one is a per-CPU u64. toa.ko's seven come first.</summary>
    public static IReadOnlyList<string> StatsFields { get; } =
    [
        "syn_recv_sock_toa", "syn_recv_sock_no_toa", "getname_toa_ok", "getname_toa_mismatch", "getname_toa_empty",
        "ip6_address_alloc", "ip6_address_free",
        "toa_from_syn", "toa_from_data", "toa_malformed", "toa_untrusted", "getname_toa_bypass",
        "toa_foreign_netns", "toa_parse_busy", "toa_parked_evicted", "toa_conns_full",
    ];

    /// <summary>struct toa_stats, as one CPU's value: <see cref="StatsFields"/> in order.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Stats
    {
        /// <summary>The counters.</summary>
        public fixed ulong Values[16];
    }
}
