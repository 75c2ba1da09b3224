// SPDX-License-Identifier: MIT
using System.Net;

namespace Toa.Sockets;

/// <summary>How the real client of a connection was learned.</summary>
public enum ClientAddressSource
{
    /// <summary>Nothing in the kernel answers for TOA: the peer address is the true peer.</summary>
    None,

    /// <summary>
    /// A TOA receiver (a kernel module, or ours without its record readable) is present but
    /// had no NAT64 client for this connection: the kernel's peer address stands, which a
    /// receiver has already rewritten when the connection carried an IPv4 TOA.
    /// </summary>
    KernelPeer,

    /// <summary><c>getsockopt(IPPROTO_IP, 4096)</c> returned the IPv6 client of a NAT64 connection.</summary>
    Nat64Lookup,

    /// <summary>Our receiver's record for the socket, read from its pinned map.</summary>
    ReceiverRecord,

    /// <summary>A PROXY protocol header the balancer sent before the client's bytes (a listener configured for it).</summary>
    ProxyHeader,
}

/// <summary>The real client of a connection.</summary>
/// <param name="Client">The client as the application should see it.</param>
/// <param name="Source">How it was learned.</param>
/// <param name="Peer">
/// The address the connection came from on the wire (the load balancer's SNAT address), when known;
/// null when the kernel may have rewritten it and nothing says what it was.
/// </param>
public sealed record RealClient(IPEndPoint Client, ClientAddressSource Source, IPEndPoint? Peer)
{
    /// <summary>
    /// Our receiver holds no TOA for the connection yet. It takes one from the first data segment
    /// when the handshake carried none, so resolving again once the client's first bytes have
    /// arrived may find the client.
    /// </summary>
    public bool Pending { get; init; }

    /// <summary>Whether the client differs from the wire peer, i.e. a TOA spoke for it.</summary>
    public bool FromToa => Source is ClientAddressSource.Nat64Lookup or ClientAddressSource.ReceiverRecord
        || (Source == ClientAddressSource.KernelPeer && Peer is not null && !Peer.Equals(Client));
}
