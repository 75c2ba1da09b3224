// SPDX-License-Identifier: MIT
using System.Net;
using System.Runtime.InteropServices;

namespace Toa.Sockets;

/// <summary>
/// The socket option a TOA receiver answers: <c>getsockopt(fd, IPPROTO_IP, 4096, &amp;peer, &amp;len)</c>
/// fills <see cref="Nat64Peer"/> for a connection that carried a NAT64 (IPv6 client) TOA.
/// Tencent's toa.ko, the LVS/DPVS modules and our receiver share this contract.
/// </summary>
public static class ToaSocketOption
{
    /// <summary>The option level: IPPROTO_IP (SOL_IP).</summary>
    public const int Level = 0;

    /// <summary>TOA_SO_GET_LOOKUP (= TOA_BASE_CTL) of enum toa_sockopt.</summary>
    public const int GetLookup = 4096;

    /// <summary>
    /// TOA_SO_GET_RECORD, our receiver's alone: the connection's whole record (struct toa_record,
    /// <see cref="ToaConnection"/>), wherever the receiver keeps it.
    /// </summary>
    public const int GetRecord = 4097;

    /// <summary>sizeof(struct toa_nat64_peer): 16-byte address, 2-byte port, 2 bytes of padding.</summary>
    public const int Nat64PeerSize = 20;
}

/// <summary>
/// struct toa_nat64_peer { struct in6_addr saddr; uint16_t sport; }: the client's IPv6
/// address, then its port in network byte order, then 2 bytes of padding (<see cref="ReceiverAbi.Nat64Peer"/>).
/// </summary>
public static class Nat64Peer
{
    /// <summary>Reads the 20 bytes getsockopt returned.</summary>
    public static unsafe IPEndPoint Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < ToaSocketOption.Nat64PeerSize)
            throw new ArgumentException($"struct toa_nat64_peer is {ToaSocketOption.Nat64PeerSize} bytes, got {bytes.Length}");
        var peer = MemoryMarshal.Read<ReceiverAbi.Nat64Peer>(bytes);
        return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(peer.SAddr, 16)), ReceiverAbi.Port(peer.SPort));
    }
}
