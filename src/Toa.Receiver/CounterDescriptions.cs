// SPDX-License-Identifier: MIT
namespace Toa.Receiver;

/// <summary>
/// What each receiver counter counts, in words operators read (live views, Prometheus HELP).
/// The meanings of toa.ko's seven are its own; bpf/receiver.h says the same beside struct toa_stats.
/// </summary>
public static class CounterDescriptions
{
    private static readonly Dictionary<string, string> Descriptions = new(StringComparer.Ordinal)
    {
        ["syn_recv_sock_toa"] = "Connections whose handshake (SYN or ACK) carried a TOA.",
        ["syn_recv_sock_no_toa"] = "Connections whose handshake carried no TOA.",
        ["getname_toa_ok"] = "getpeername(), accept() or getsockopt(4096) answered with a TOA address.",
        ["getname_toa_mismatch"] = "getsockopt(4096) asked for an IPv6 client of a connection holding an IPv4 one.",
        ["getname_toa_empty"] = "getsockopt(4096) on a connection holding no TOA.",
        ["ip6_address_alloc"] = "Records of an IPv6 (NAT64) client made.",
        ["ip6_address_free"] = "Records of an IPv6 (NAT64) client released when their connection closed.",
        ["toa_from_syn"] = "TOAs taken from the SYN because the handshake ACK had none.",
        ["toa_from_data"] = "TOAs taken from the first data segment because the handshake had none.",
        ["toa_malformed"] = "Packets whose options were broken, held two TOAs, or a TOA whose address no client has.",
        ["toa_untrusted"] = "TOAs ignored because the peer is outside the trust list.",
        ["toa_foreign_netns"] = "TOAs ignored because the server's network namespace is not one the receiver honours.",
        ["getname_toa_bypass"] = "getpeername() of a NAT64 connection that kept the load balancer's (SNAT) address.",
        ["toa_parse_busy"] = "Packets left unparsed because every parse buffer of their CPU was in use.",
        ["toa_parked_evicted"] = "SYN-borne TOAs dropped before their handshake completed because the parked map was full.",
        ["toa_conns_full"] = "Records kept in socket storage (about 370 bytes, not 128) because the connections map was full (toa load --connections).",

    };

    /// <summary>Whether <paramref name="name"/> has a description of its own.</summary>
    public static bool IsKnown(string name) => Descriptions.ContainsKey(name);

    /// <summary>The description of counter <paramref name="name"/>; a counter newer than this list gets a generic one.</summary>
    public static string Of(string name) =>
        Descriptions.TryGetValue(name, out var text) ? text : $"The receiver's {name} counter.";
}
