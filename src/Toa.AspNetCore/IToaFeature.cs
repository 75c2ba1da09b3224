// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Sockets;

namespace Toa.AspNetCore;

/// <summary>
/// What <c>UseToa</c> learned about a connection, on the connection's features (and so
/// on every request's: <c>HttpContext.Features.Get&lt;IToaFeature&gt;()</c>).
/// </summary>
public interface IToaFeature
{
    /// <summary>The client the connection reports (its <c>RemoteEndPoint</c>).</summary>
    IPEndPoint Client { get; }

    /// <summary>How the client was learned.</summary>
    ClientAddressSource Source { get; }

    /// <summary>The address the connection came from on the wire (the load balancer's SNAT address), when known.</summary>
    IPEndPoint? Peer { get; }

    /// <summary>False when the peer was outside <see cref="ToaOptions.AllowedNetworks"/> and its TOA was ignored.</summary>
    bool Trusted { get; }
}

internal sealed record ToaFeature(IPEndPoint Client, ClientAddressSource Source, IPEndPoint? Peer, bool Trusted) : IToaFeature;
