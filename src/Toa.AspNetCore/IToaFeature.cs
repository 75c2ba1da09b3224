// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Sockets;

namespace Toa.AspNetCore;

/// <summary>
/// What <c>UseToa</c> learned about a connection, on the connection's features (and so
/// on every request's: <c>HttpContext.Features.Get&lt;IToaFeature&gt;()</c>). When our receiver
/// held no TOA as the connection opened, the first read of a property resolves it again: by
/// then (in a request, or in a connection handler after the client's first bytes) a TOA that
/// came with the first data segment is known.
/// </summary>
public interface IToaFeature
{
    /// <summary>The client the connection reports (its <c>RemoteEndPoint</c>).</summary>
    IPEndPoint Client { get; }

    /// <summary>How the client was learned.</summary>
    ClientAddressSource Source { get; }

    /// <summary>The address the connection came from on the wire (the load balancer's SNAT address), when known.</summary>
    IPEndPoint? Peer { get; }

    /// <summary>
    /// False when the peer was outside <see cref="ToaOptions.AllowedNetworks"/> and its TOA was ignored,
    /// or when the wire peer could not be learned to check it (the client is then the unspecified address).
    /// </summary>
    bool Trusted { get; }
}

internal sealed record ToaFeature(IPEndPoint Client, ClientAddressSource Source, IPEndPoint? Peer, bool Trusted) : IToaFeature;

/// <summary>A connection resolved again when first read, once: the answer at its opening stands if that fails.</summary>
internal sealed class LateToaFeature(Func<ToaFeature> resolve) : IToaFeature
{
    private readonly Lazy<ToaFeature> _resolved = new(resolve, LazyThreadSafetyMode.ExecutionAndPublication);

    public ToaFeature Resolved => _resolved.Value;

    public IPEndPoint Client => Resolved.Client;

    public ClientAddressSource Source => Resolved.Source;

    public IPEndPoint? Peer => Resolved.Peer;

    public bool Trusted => Resolved.Trusted;
}
