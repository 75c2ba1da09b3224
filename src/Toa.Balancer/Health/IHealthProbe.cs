// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Wire;

namespace Toa.Balancer.Health;

/// <summary>One active health check of one backend.</summary>
public interface IHealthProbe
{
    /// <summary>Whether <paramref name="backend"/> answers; cancelled when the check times out.</summary>
    /// <param name="backend">The backend.</param>
    /// <param name="source">The SNAT source to bind to, or null for the kernel's choice.</param>
    /// <param name="cancellationToken">Cancelled at the check's timeout or at shutdown.</param>
    ValueTask<bool> ProbeAsync(IPEndPoint backend, IPAddress? source, CancellationToken cancellationToken);

    /// <summary>
    /// The same check toward a backend that expects a PROXY header first (the listener sends v2):
    /// with <paramref name="proxyHeader"/> the connection opens with a LOCAL header, so the backend
    /// takes it for the balancer's own rather than a malformed client's.
    /// </summary>
    ValueTask<bool> ProbeAsync(IPEndPoint backend, IPAddress? source, bool proxyHeader, CancellationToken cancellationToken) =>
        ProbeAsync(backend, source, cancellationToken);
}

/// <summary>A TCP connect from the listener's source address, closed at once: the backend accepts connections.</summary>
public sealed class TcpConnectProbe : IHealthProbe
{
    /// <summary>The one instance.</summary>
    public static TcpConnectProbe Instance { get; } = new();

    private TcpConnectProbe()
    {
    }

    /// <inheritdoc />
    public ValueTask<bool> ProbeAsync(IPEndPoint backend, IPAddress? source, CancellationToken cancellationToken) =>
        ProbeAsync(backend, source, proxyHeader: false, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<bool> ProbeAsync(IPEndPoint backend, IPAddress? source, bool proxyHeader, CancellationToken cancellationToken)
    {
        try
        {
            using var socket = await ConnectAsync(backend, source, proxyHeader, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// A check's connection, for every kind of check: from <paramref name="source"/>, opening with a
    /// LOCAL header when <paramref name="proxyHeader"/>, closed abortively (no TIME_WAIT left behind
    /// per check on either side).
    /// </summary>
    internal static async Task<Socket> ConnectAsync(IPEndPoint backend, IPAddress? source, bool proxyHeader, CancellationToken cancellationToken)
    {
        var socket = new Socket(backend.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (source is not null)
                socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(backend, cancellationToken).ConfigureAwait(false);
            if (proxyHeader)
                await socket.SendAsync(ProxyProtocol.V2Local.ToArray(), cancellationToken).ConfigureAwait(false);
            socket.LingerState = new LingerOption(true, 0);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
