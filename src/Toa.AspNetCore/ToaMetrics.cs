// SPDX-License-Identifier: MIT
using System.Diagnostics.Metrics;
using Toa.Sockets;

namespace Toa.AspNetCore;

/// <summary>
/// The <c>Toa.AspNetCore</c> meter (<c>dotnet-counters monitor --counters Toa.AspNetCore</c>):
/// <c>toa.aspnetcore.connections</c> by <c>toa.client.source</c> (how the client was learned) and
/// <c>toa.aspnetcore.claims_refused</c> by <c>toa.refusal</c> (why a claimed client was not believed) and
/// <c>toa.aspnetcore.proxy_headers_refused</c> by <c>toa.refusal</c> (connections closed for their PROXY header).
/// </summary>
internal sealed class ToaMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Toa.AspNetCore";

    private readonly Counter<long> _connections;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _proxyRefused;

    /// <summary>A meter of its own, for endpoints set up without DI's meter factory.</summary>
    public static ToaMetrics Shared { get; } = new(new Meter(MeterName));

    public ToaMetrics(IMeterFactory factory) : this(factory.Create(MeterName)) { }

    private ToaMetrics(Meter meter)
    {
        _connections = meter.CreateCounter<long>("toa.aspnetcore.connections", "{connection}",
            "Connections whose client was decided, by how it was learned (toa.client.source).");
        _refused = meter.CreateCounter<long>("toa.aspnetcore.claims_refused", "{connection}",
            "Connections whose claimed client was not believed, by why (toa.refusal).");
        _proxyRefused = meter.CreateCounter<long>("toa.aspnetcore.proxy_headers_refused", "{connection}",
            "Connections closed because their PROXY protocol header was missing, invalid or late, by why (toa.refusal).");
    }

    public void Connection(ClientAddressSource source) =>
        _connections.Add(1, new KeyValuePair<string, object?>("toa.client.source", Name(source)));

    /// <summary>A claim from a peer outside <see cref="ToaOptions.AllowedNetworks"/>.</summary>
    public void UntrustedPeer() => _refused.Add(1, new KeyValuePair<string, object?>("toa.refusal", "untrusted_peer"));

    /// <summary>A claim whose wire peer could not be read, so could not be checked.</summary>
    public void UnverifiablePeer() => _refused.Add(1, new KeyValuePair<string, object?>("toa.refusal", "unverifiable_peer"));

    /// <summary>A connection closed on a listener expecting a PROXY header.</summary>
    public void ProxyHeaderRefused(ProxyRefusal reason) =>
        _proxyRefused.Add(1, new KeyValuePair<string, object?>("toa.refusal", reason.ToString().ToLowerInvariant()));

    private static string Name(ClientAddressSource source) => source switch
    {
        ClientAddressSource.None => "none",
        ClientAddressSource.KernelPeer => "kernel_peer",
        ClientAddressSource.Nat64Lookup => "nat64_lookup",
        ClientAddressSource.ReceiverRecord => "receiver_record",
        ClientAddressSource.ProxyHeader => "proxy_header",
        _ => source.ToString().ToLowerInvariant(),
    };
}

/// <summary>Why a connection's PROXY header was refused.</summary>
internal enum ProxyRefusal
{
    /// <summary>The bytes are no PROXY header.</summary>
    Invalid,
    /// <summary>The whole header did not come within <see cref="ToaOptions.ProxyProtocolTimeout"/>.</summary>
    Timeout,
    /// <summary>The client closed before its header was complete.</summary>
    Closed,
}
