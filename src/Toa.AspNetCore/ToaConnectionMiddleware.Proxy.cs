// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using Toa.Sockets;

namespace Toa.AspNetCore;

// Connections on a listener configured for the PROXY protocol (ToaOptions.ProxyProtocol).
public sealed partial class ToaConnectionMiddleware
{
    /// <summary>
    /// Reads the header before anything else sees the connection: the client it names becomes the
    /// remote endpoint; a connection without a valid header is aborted, counted and logged.
    /// </summary>
    private async Task OnProxyConnectionAsync(ConnectionContext connection)
    {
        var read = await ProxyHeaderReader.ReadAsync(connection.Transport.Input, _options.ProxyProtocolTimeout, connection.ConnectionClosed);
        if (read.Refusal is { } refusal)
        {
            _metrics.ProxyHeaderRefused(refusal);
            // A connection closed early is often a balancer's plain TCP health check: not worth a line each time.
            if (refusal == ProxyRefusal.Closed)
                LogProxyHeaderCutShort(_logger, connection.ConnectionId, connection.RemoteEndPoint, read.Reason!);
            else
                LogProxyHeaderRefused(_logger, connection.ConnectionId, connection.RemoteEndPoint, refusal, read.Reason!);
            connection.Abort(new ConnectionAbortedException($"PROXY protocol header refused: {read.Reason}"));
            return;
        }
        var original = connection.RemoteEndPoint;
        var feature = DecideProxy(connection, read.Header.Source, original as IPEndPoint);
        _metrics.Connection(feature.Source);
        connection.Features.Set<IToaFeature>(feature);
        connection.RemoteEndPoint = feature.Client;
        try
        {
            await _next(connection);
        }
        finally
        {
            connection.RemoteEndPoint = original;
        }
    }

    private ToaFeature DecideProxy(ConnectionContext connection, IPEndPoint? claimed, IPEndPoint? kernelPeer)
    {
        var unspecified = new IPEndPoint(kernelPeer?.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        if (claimed is null)
        {
            // LOCAL (the balancer's own health check) or no TCP address: the connection's own peer stands.
            LogProxyHeaderWithoutClient(_logger, connection.ConnectionId, kernelPeer);
            return new ToaFeature(kernelPeer ?? unspecified, ClientAddressSource.None, kernelPeer, Trusted: true);
        }
        if (_options.AllowedNetworks.Count == 0)
        {
            LogRealClient(_logger, connection.ConnectionId, claimed, ClientAddressSource.ProxyHeader, kernelPeer);
            return new ToaFeature(claimed, ClientAddressSource.ProxyHeader, kernelPeer, Trusted: true);
        }
        // The sender of the header is the wire peer, which a TOA receiver may have rewritten in the kernel.
        var wire = WirePeer(connection, kernelPeer);
        if (wire is not null && IsAllowed(wire.Address))
        {
            LogRealClient(_logger, connection.ConnectionId, claimed, ClientAddressSource.ProxyHeader, wire);
            return new ToaFeature(claimed, ClientAddressSource.ProxyHeader, wire, Trusted: true);
        }
        _metrics.UntrustedPeer();
        LogUntrustedPeer(_logger, connection.ConnectionId, wire ?? unspecified, claimed);
        return new ToaFeature(wire ?? unspecified, ClientAddressSource.ProxyHeader, wire, Trusted: false);
    }

    private IPEndPoint? WirePeer(ConnectionContext connection, IPEndPoint? kernelPeer)
    {
        if (connection.Features.Get<IConnectionSocketFeature>()?.Socket is not { } socket || Resolve(connection.ConnectionId, socket) is not { } real)
            return kernelPeer;
        return real.Source == ClientAddressSource.None ? kernelPeer : real.Peer;
    }

    [LoggerMessage(EventId = 7, EventName = "ProxyHeaderRefused", Level = LogLevel.Information,
        Message = "Connection {ConnectionId} from {Peer}: closed, its PROXY protocol header was refused ({Refusal}: {Reason})")]
    private static partial void LogProxyHeaderRefused(ILogger logger, string connectionId, EndPoint? peer, ProxyRefusal refusal, string reason);

    [LoggerMessage(EventId = 9, EventName = "ProxyHeaderCutShort", Level = LogLevel.Debug,
        Message = "Connection {ConnectionId} from {Peer}: {Reason}")]
    private static partial void LogProxyHeaderCutShort(ILogger logger, string connectionId, EndPoint? peer, string reason);

    [LoggerMessage(EventId = 8, EventName = "ProxyHeaderWithoutClient", Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: the PROXY protocol header names no client (LOCAL or no TCP address); keeping the peer {Peer}")]
    private static partial void LogProxyHeaderWithoutClient(ILogger logger, string connectionId, IPEndPoint? peer);
}
