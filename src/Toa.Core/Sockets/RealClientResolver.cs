// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;

namespace Toa.Sockets;

/// <summary>
/// Finds the real client of an accepted socket whatever answers for TOA in the kernel: our
/// receiver (its record for the socket says everything), Tencent's toa.ko, the LVS/DPVS
/// modules, or nothing. The modules share one contract: the IPv4 client replaces the peer
/// address (getpeername), and <c>getsockopt(IPPROTO_IP, 4096)</c> gives a NAT64 connection's
/// IPv6 client. One system call per connection on the common path; "no TOA" is an answer,
/// never an exception.
/// </summary>
public sealed class RealClientResolver(IToaSocketCalls calls)
{
    private const int ENOENT = 2, ENODEV = 19, ENOPROTOOPT = 92;

    /// <summary>A resolver making the real system calls, for the receiver pinned at the default place.</summary>
    public static RealClientResolver System { get; } = new(SystemSocketCalls.Default);

    /// <summary>The real client of <paramref name="socket"/>, a connected TCP socket.</summary>
    public RealClient Resolve(Socket socket)
    {
        var peer = socket.RemoteEndPoint as IPEndPoint
            ?? throw new ArgumentException("the socket is not connected over IP", nameof(socket));
        var recordErrno = calls.GetReceiverRecord(socket, out var record);
        switch (recordErrno)
        {
            case 0:
                return new RealClient(AsSocketSees(record!.Client, socket), ClientAddressSource.ReceiverRecord, AsSocketSees(record.Peer, socket));
            case ENOENT:
                // Our receiver is loaded and this connection carried no TOA it honoured, so far.
                return new RealClient(peer, ClientAddressSource.None, peer) { Pending = true };
        }
        Span<byte> nat64 = stackalloc byte[ToaSocketOption.Nat64PeerSize];
        switch (calls.GetNat64Peer(socket, nat64))
        {
            case 0:
                var client = Nat64Peer.Parse(nat64);
                // On AF_INET6 sockets a receiver may have rewritten the peer to the client itself.
                return new RealClient(client, ClientAddressSource.Nat64Lookup, peer.Address.Equals(client.Address) ? null : peer);
            case ENOPROTOOPT when recordErrno == ENODEV:
                return new RealClient(peer, ClientAddressSource.None, peer);
            case ENOPROTOOPT:
                // Our receiver's pin is there but unreadable, and before 5.18 its refusal looks like
                // nothing answering: the peer may be its rewrite.
                return new RealClient(peer, ClientAddressSource.KernelPeer, null);
            default:
                // A receiver answered "not NAT64": the peer address is its word, rewritten or not.
                return new RealClient(peer, ClientAddressSource.KernelPeer, null);
        }
    }

    // An IPv4 client on a dual-stack socket is shown as the socket shows every IPv4 peer: ::ffff:a.b.c.d.
    private static IPEndPoint AsSocketSees(IPEndPoint endPoint, Socket socket) =>
        socket.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.AddressFamily == AddressFamily.InterNetwork
            ? new IPEndPoint(endPoint.Address.MapToIPv6(), endPoint.Port)
            : endPoint;
}
