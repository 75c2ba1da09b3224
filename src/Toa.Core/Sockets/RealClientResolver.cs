// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;

namespace Toa.Sockets;

/// <summary>
/// Finds the real client of an accepted socket whatever answers for TOA in the kernel:
/// Tencent's toa.ko, the LVS/DPVS modules, our receiver, or nothing. They share one
/// contract: the IPv4 client replaces the peer address (getpeername), and
/// <c>getsockopt(IPPROTO_IP, 4096)</c> gives a NAT64 connection's IPv6 client. One system
/// call per connection; "no TOA" is an answer, never an exception.
/// </summary>
public sealed class RealClientResolver(IToaSocketCalls calls)
{
    private const int ENOPROTOOPT = 92;

    /// <summary>A resolver making the real system calls.</summary>
    public static RealClientResolver System { get; } = new(SystemSocketCalls.Instance);

    /// <summary>The real client of <paramref name="socket"/>, a connected TCP socket.</summary>
    public RealClient Resolve(Socket socket)
    {
        var peer = socket.RemoteEndPoint as IPEndPoint
            ?? throw new ArgumentException("the socket is not connected over IP", nameof(socket));
        Span<byte> nat64 = stackalloc byte[ToaSocketOption.Nat64PeerSize];
        return calls.GetNat64Peer(socket, nat64) switch
        {
            0 => new RealClient(Nat64Peer.Parse(nat64), ClientAddressSource.Nat64Lookup, peer),
            ENOPROTOOPT => new RealClient(peer, ClientAddressSource.None, peer),
            // A receiver answered "not NAT64": the peer address is its word, rewritten or not.
            _ => new RealClient(peer, ClientAddressSource.KernelPeer, null),
        };
    }
}
