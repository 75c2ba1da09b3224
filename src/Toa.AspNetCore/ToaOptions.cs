// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Sockets;

namespace Toa.AspNetCore;

/// <summary>How connections learn their real client.</summary>
public sealed class ToaOptions
{
    /// <summary>
    /// The networks allowed to speak for clients: the load balancers' addresses as the server
    /// sees them on the wire. A connection from elsewhere keeps its true peer. Empty (the
    /// default) allows every peer, as the kernel modules do; set it when clients can reach the
    /// server directly.
    /// </summary>
    /// <remarks>
    /// A receiver that rewrites IPv4 peers in the kernel (toa.ko) leaves no trace of the wire
    /// peer, so such connections cannot be checked; they keep the kernel's address and a debug
    /// message says so. NAT64 lookups and our receiver's records can be checked.
    /// </remarks>
    public IList<IPNetwork> AllowedNetworks { get; } = [];

    /// <summary>
    /// Where our receiver's maps are pinned (<c>toa load --pin-dir</c>); default /sys/fs/bpf/toa.
    /// Its per-connection record gives the client and the wire peer in one lookup; without it
    /// (no receiver of ours, or a kernel module instead) the kernel's socket calls are used.
    /// </summary>
    public string ReceiverPinDirectory { get; set; } = ReceiverRecords.DefaultPinDirectory;
}
