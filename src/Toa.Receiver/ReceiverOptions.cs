// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Bpf;
using Toa.Wire;

namespace Toa.Receiver;

/// <summary>What getpeername() on an AF_INET6 socket gives for a connection holding an IPv6 (NAT64) client (enum toa_nat64_peer_mode).</summary>
public enum Nat64PeerMode
{
    /// <summary>The real IPv6 client: a dual-stack server needs no code change (the default).</summary>
    Real,
    /// <summary>The SNAT address, as toa.ko leaves it; the client is only in getsockopt 4096.</summary>
    Snat,
}

/// <summary>How to load the receiver. Every default is toa.ko's behaviour but <see cref="Namespaces"/>, which is the safe one.</summary>
public sealed record ReceiverOptions
{
    /// <summary>Where the programs and maps are pinned: /sys/fs/bpf/toa unless told otherwise.</summary>
    public string PinDirectory { get; init; } = ToaReceiver.DefaultPinDirectory;

    /// <summary>The cgroup v2 directory to attach to (absolute, or relative to the hierarchy); null for its root.</summary>
    public string? Cgroup { get; init; }

    /// <summary>The layouts honoured: 200/8, 253/20, 254/8 and 254/20 unless told otherwise.</summary>
    public ToaLayouts Formats { get; init; } = ToaLayouts.Default;

    /// <summary>Peers whose TOA is believed; empty believes every peer (toa.ko's behaviour).</summary>
    public IReadOnlyList<IPNetwork> Trust { get; init; } = [];

    /// <summary>
    /// The network namespaces whose sockets honour a TOA, as paths naming them (/proc/PID/ns/net,
    /// /var/run/netns/NAME), resolved when loading; null honours every namespace, as toa.ko does.
    /// Default: the namespace of the process that loads the receiver, usually the host's, where
    /// servers behind a load balancer live; a container's namespace has to be named.
    /// </summary>
    public IReadOnlyList<string>? Namespaces { get; init; } = [NetworkNamespace.Current];

    /// <summary>getpeername() on AF_INET6 sockets of NAT64 connections.</summary>
    public Nat64PeerMode Nat64Peer { get; init; } = Nat64PeerMode.Real;

    /// <summary>
    /// Connections carrying a TOA whose records the connections map holds, 128 bytes each; its buckets
    /// (16 bytes for each of this rounded up to a power of two) are allocated at load. Records beyond it
    /// go to socket storage (about 370 bytes each), counted in toa_conns_full. Default
    /// <see cref="DefaultConnections"/>, which keeps a load's fixed cost under 1 MB. A replaced receiver
    /// (--force) keeps the map it has, and so its size.
    /// </summary>
    public int Connections { get; init; } = DefaultConnections;

    /// <summary>The connections map's default size: 16,384 (256 KiB of buckets).</summary>
    public const int DefaultConnections = 16384;
}
