// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using Toa.Sockets;

namespace Toa.AspNetCore;

/// <summary>
/// Kestrel connection middleware: before the rest of the pipeline runs, sets the
/// connection's remote endpoint to the real client, so every request on it (HTTP/1.1
/// keep-alive and HTTP/2 included) and any connection handler see it. The original
/// endpoint comes back when the connection ends. A connection our receiver holds no TOA for
/// yet (it may take one from the first data segment) keeps its endpoint and is resolved again
/// when its <see cref="IToaFeature"/> is first read: the request middleware that <c>AddToa</c>
/// registers reads it for every request and shows the client there. On a listener configured for
/// the PROXY protocol the header the balancer sent names the client instead.
/// </summary>
public sealed partial class ToaConnectionMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly ToaOptions _options;
    private readonly RealClientResolver _resolver;
    private readonly ILogger _logger;
    private readonly ToaMetrics _metrics;
    private int _warnedUnverifiable;

    /// <summary>Creates the middleware; the options are checked here so bad settings fail at startup.</summary>
    public ToaConnectionMiddleware(ConnectionDelegate next, ToaOptions options, RealClientResolver resolver, ILogger<ToaConnectionMiddleware> logger)
        : this(next, options, resolver, logger, ToaMetrics.Shared)
    {
    }

    internal ToaConnectionMiddleware(ConnectionDelegate next, ToaOptions options, RealClientResolver resolver, ILogger<ToaConnectionMiddleware> logger,
        ToaMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(resolver);
        ArgumentNullException.ThrowIfNull(logger);
        if (options.AllowedNetworks.Any(n => n == default))
            throw new ArgumentException("ToaOptions.AllowedNetworks holds an empty network", nameof(options));
        if (options.ProxyProtocol && options.ProxyProtocolTimeout <= TimeSpan.Zero)
            throw new ArgumentException("ToaOptions.ProxyProtocolTimeout must be positive", nameof(options));
        _next = next;
        _options = options;
        _resolver = resolver;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>Handles one connection.</summary>
    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        if (_options.ProxyProtocol)
        {
            await OnProxyConnectionAsync(connection);
            return;
        }
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (socket is null || socket.ProtocolType != ProtocolType.Tcp || Resolve(connection.ConnectionId, socket) is not { } real)
        {
            await _next(connection);
            return;
        }
        if (real.Pending)
        {
            // The kernel's peer stands until the client's first bytes: the remote endpoint keeps it.
            LogAwaitingData(_logger, connection.ConnectionId);
            var atOpen = new ToaFeature(real.Client, real.Source, real.Peer, Trusted: true);
            connection.Features.Set<IToaFeature>(new LateToaFeature(() => ResolveLate(connection.ConnectionId, socket, atOpen)));
            await _next(connection);
            return;
        }
        var feature = Decide(connection.ConnectionId, real);
        connection.Features.Set<IToaFeature>(feature);
        var original = connection.RemoteEndPoint;
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

    private RealClient? Resolve(string connectionId, Socket socket)
    {
        try
        {
            return _resolver.Resolve(socket);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or ArgumentException)
        {
            // The client may already be gone; the connection goes on with what Kestrel knows.
            LogResolveFailed(_logger, connectionId, e.Message);
            return null;
        }
    }

    // Once data has arrived the receiver's answer is final: no record now means no TOA at all.
    private ToaFeature ResolveLate(string connectionId, Socket socket, ToaFeature atOpen) =>
        Resolve(connectionId, socket) is { } real ? Decide(connectionId, real) : atOpen;

    private ToaFeature Decide(string connectionId, RealClient real)
    {
        _metrics.Connection(real.Source);
        if (_options.AllowedNetworks.Count == 0 || (real.Peer is not null && !real.FromToa))
        {
            LogRealClient(_logger, connectionId, real.Client, real.Source, real.Peer);
            return new ToaFeature(real.Client, real.Source, real.Peer, Trusted: true);
        }
        if (real.Peer is null)
        {
            // The address may be a claim rewritten in by the kernel, from anyone: believe none of it.
            var unknown = new IPEndPoint(real.Client.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
            if (Interlocked.Exchange(ref _warnedUnverifiable, 1) == 0)
                LogUnverifiablePeers(_logger, _options.ReceiverPinDirectory, unknown);
            LogUnverifiable(_logger, connectionId, real.Client, unknown);
            _metrics.UnverifiablePeer();
            return new ToaFeature(unknown, real.Source, null, Trusted: false);
        }
        if (IsAllowed(real.Peer.Address))
        {
            LogRealClient(_logger, connectionId, real.Client, real.Source, real.Peer);
            return new ToaFeature(real.Client, real.Source, real.Peer, Trusted: true);
        }
        LogUntrustedPeer(_logger, connectionId, real.Peer, real.Client);
        _metrics.UntrustedPeer();
        return new ToaFeature(real.Peer, real.Source, real.Peer, Trusted: false);
    }

    private bool IsAllowed(IPAddress address)
    {
        var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return _options.AllowedNetworks.Any(n => n.Contains(plain));
    }

    [LoggerMessage(EventId = 1, EventName = "RealClient", Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: client {Client} (learned by {Source}; wire peer {Peer})")]
    private static partial void LogRealClient(ILogger logger, string connectionId, IPEndPoint client, ClientAddressSource source, IPEndPoint? peer);

    [LoggerMessage(EventId = 2, EventName = "UntrustedPeer", Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: peer {Peer} is outside the allowed networks; its claim {Client} is ignored")]
    private static partial void LogUntrustedPeer(ILogger logger, string connectionId, IPEndPoint peer, IPEndPoint client);

    [LoggerMessage(EventId = 3, EventName = "Unverifiable", Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: the wire peer is unknown, so {Client} (possibly the kernel's rewrite) cannot be checked against the allowed networks; reporting {Unknown}, untrusted")]
    private static partial void LogUnverifiable(ILogger logger, string connectionId, IPEndPoint client, IPEndPoint unknown);

    [LoggerMessage(EventId = 6, EventName = "UnverifiablePeers", Level = LogLevel.Warning,
        Message = "ToaOptions.AllowedNetworks is set but a connection's wire peer cannot be verified: the receiver's records under {PinDirectory} "
            + "cannot be read (not mounted in this container, or bpf(2) refused) and the kernel's peer address may be a TOA's claim. "
            + "Such connections report {Unknown} and are not trusted. Make the records readable to this process. Logged once.")]
    private static partial void LogUnverifiablePeers(ILogger logger, string pinDirectory, IPEndPoint unknown);

    [LoggerMessage(EventId = 5, EventName = "AwaitingData", Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: the receiver holds no TOA yet; the client is resolved again once the first request has arrived")]
    private static partial void LogAwaitingData(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 4, EventName = "ResolveFailed", Level = LogLevel.Debug,
        Message = "Connection {ConnectionId}: the real client could not be read ({Reason}); keeping the peer address")]
    private static partial void LogResolveFailed(ILogger logger, string connectionId, string reason);
}
