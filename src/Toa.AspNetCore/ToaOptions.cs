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
    /// The check needs the wire peer. Our receiver's records give it, and NAT64 lookups on IPv4
    /// sockets. A receiver that rewrites peers in the kernel (toa.ko, or ours when its records
    /// cannot be read: a container without /sys/fs/bpf, bpf(2) refused) leaves no trace of it, so
    /// such connections fail closed: they report the unspecified address (0.0.0.0:0 or [::]:0),
    /// untrusted, and a warning says so once.
    /// </remarks>
    public IList<IPNetwork> AllowedNetworks { get; } = [];

    /// <summary>
    /// Where our receiver's maps are pinned (<c>toa load --pin-dir</c>); default /sys/fs/bpf/toa.
    /// Its per-connection record gives the client and the wire peer in one lookup; without it
    /// (no receiver of ours, or a kernel module instead) the kernel's socket calls are used.
    /// </summary>
    public string ReceiverPinDirectory { get; set; } = ReceiverRecords.DefaultPinDirectory;

    /// <summary>
    /// Whether every connection starts with a PROXY protocol header (version 2, as Tencent CLB, HAProxy's
    /// <c>send-proxy-v2</c> and <c>toa lb</c>'s <c>"proxyProtocol": "v2"</c> send it; version 1 is read too)
    /// naming the client. Off by default: a balancer's choice, never guessed. When on, a connection
    /// without a valid header within <see cref="ProxyProtocolTimeout"/> is closed, counted and logged.
    /// </summary>
    public bool ProxyProtocol { get; set; }

    /// <summary>How long a connection may take to send its whole PROXY header; default 5 seconds.</summary>
    public TimeSpan ProxyProtocolTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
