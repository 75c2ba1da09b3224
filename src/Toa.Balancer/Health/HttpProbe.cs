// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;

namespace Toa.Balancer.Health;

/// <summary>
/// An HTTP health check: <c>GET</c> <see cref="Path"/> over a new connection from the listener's
/// source address; the backend is healthy when it answers <see cref="Expect"/>. Only the status
/// line and headers are read. Redirects are not followed and no proxy is used: the answer is the
/// backend's own.
/// </summary>
/// <param name="Path">The request's path and query, "/healthz".</param>
/// <param name="Expect">The status code of a healthy backend.</param>
public sealed record HttpProbe(string Path, int Expect) : IHealthProbe
{
    // Where the connection goes and from where, handed to ConnectAsync with the request.
    private static readonly HttpRequestOptionsKey<(IPEndPoint Backend, IPAddress? Source, bool ProxyHeader)> s_route = new("toa.route");

    // One client for every check: the handler is thread-safe, and a new connection per check
    // (no pooling) makes each check see whether the backend still accepts.
    private static readonly HttpClient s_client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.Zero,
        ConnectCallback = ConnectAsync,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan, // the checker's token carries the check's timeout
    };

    /// <inheritdoc />
    public ValueTask<bool> ProbeAsync(IPEndPoint backend, IPAddress? source, CancellationToken cancellationToken) =>
        ProbeAsync(backend, source, proxyHeader: false, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<bool> ProbeAsync(IPEndPoint backend, IPAddress? source, bool proxyHeader, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://{backend}{Path}"));
        request.Headers.ConnectionClose = true;
        request.Options.Set(s_route, (backend, source, proxyHeader));
        try
        {
            using var response = await s_client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            return (int)response.StatusCode == Expect;
        }
        catch (HttpRequestException)
        {
            return false; // refused, reset, or not HTTP
        }
    }

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        context.InitialRequestMessage.Options.TryGetValue(s_route, out var route);
        var socket = await TcpConnectProbe.ConnectAsync(route.Backend, route.Source, route.ProxyHeader, cancellationToken).ConfigureAwait(false);
        return new NetworkStream(socket, ownsSocket: true);
    }
}
