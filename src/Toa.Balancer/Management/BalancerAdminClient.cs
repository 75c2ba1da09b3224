// SPDX-License-Identifier: MIT
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Toa.Balancer.Configuration;

namespace Toa.Balancer.Management;

/// <summary>
/// Talks to a running balancer's admin endpoint: what <c>toa lb status</c>, <c>drain</c>,
/// <c>disable</c>, <c>enable</c> and <c>reload</c> use. By default through its Unix socket,
/// which takes commands; over TCP commands need the token.
/// </summary>
public sealed class BalancerAdminClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly string? _token;

    /// <summary>
    /// A client for the endpoint at <paramref name="address"/>: the Unix socket's absolute path
    /// ("/run/toa/lb.sock") or a TCP address ("127.0.0.1:9180", "[::1]:9180").
    /// </summary>
    /// <param name="address">The balancer's <c>adminSocket</c> or <c>admin</c>.</param>
    /// <param name="token">The token commands over TCP carry (the content of the balancer's <c>adminTokenFile</c>), or null.</param>
    /// <param name="http">An HttpClient to use (TCP only); one is made (and disposed) when null.</param>
    /// <exception cref="ArgumentException">The address is neither an absolute path nor an address and port.</exception>
    public BalancerAdminClient(string address = ConfigDefaults.AdminSocket, string? token = null, HttpClient? http = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        _token = token;
        _ownsHttp = http is null;
        if (Path.IsPathFullyQualified(address))
        {
            Address = address;
            BaseAddress = new Uri("http://localhost/");
            var socket = new UnixDomainSocketEndPoint(address);
            _http = new HttpClient(new SocketsHttpHandler
            {
                ConnectCallback = async (_, cancel) =>
                {
                    var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        await client.ConnectAsync(socket, cancel).ConfigureAwait(false);
                        return new NetworkStream(client, ownsSocket: true);
                    }
                    catch
                    {
                        client.Dispose();
                        throw;
                    }
                },
            }) { Timeout = TimeSpan.FromSeconds(10) };
            _ownsHttp = true;
            return;
        }
        if (!Endpoints.TryParse(address, out var endPoint))
            throw new ArgumentException($"\"{address}\" is neither a socket path nor an address and port, e.g. /run/toa/lb.sock or 127.0.0.1:9180", nameof(address));
        _http = http ?? new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Address = endPoint.ToString();
        BaseAddress = new Uri($"http://{endPoint}/");
    }

    /// <summary>The endpoint's base URI ("http://localhost/" over the socket).</summary>
    public Uri BaseAddress { get; }

    /// <summary>The socket path or TCP address asked, as errors name it.</summary>
    public string Address { get; }

    /// <summary>Every listener and backend.</summary>
    /// <exception cref="BalancerAdminException">The balancer cannot be reached or refused the request.</exception>
    public async Task<BalancerStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var body = await SendAsync(HttpMethod.Get, "status", cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(body, AdminJsonContext.Default.BalancerStatus)
            ?? throw new BalancerAdminException("the balancer sent an empty status", 0);
    }

    /// <summary>The metrics, in Prometheus' text format.</summary>
    /// <exception cref="BalancerAdminException">The balancer cannot be reached or refused the request.</exception>
    public async Task<string> GetMetricsAsync(CancellationToken cancellationToken = default) =>
        System.Text.Encoding.UTF8.GetString(await SendAsync(HttpMethod.Get, "metrics", cancellationToken).ConfigureAwait(false));

    /// <summary>No new connections to <paramref name="backend"/> ("ADDRESS" or "LISTENER/ADDRESS"); established ones go on.</summary>
    /// <exception cref="BalancerAdminException">No backend matches, or the balancer cannot be reached.</exception>
    public Task<AdminCommandResult> DrainAsync(string backend, CancellationToken cancellationToken = default) =>
        CommandAsync("drain", backend, cancellationToken);

    /// <summary>No new connections, established ones reset, health checks paused.</summary>
    /// <exception cref="BalancerAdminException">No backend matches, or the balancer cannot be reached.</exception>
    public Task<AdminCommandResult> DisableAsync(string backend, CancellationToken cancellationToken = default) =>
        CommandAsync("disable", backend, cancellationToken);

    /// <summary>Back to taking connections (when healthy) after drain or disable.</summary>
    /// <exception cref="BalancerAdminException">No backend matches, or the balancer cannot be reached.</exception>
    public Task<AdminCommandResult> EnableAsync(string backend, CancellationToken cancellationToken = default) =>
        CommandAsync("enable", backend, cancellationToken);

    /// <summary>Has the balancer read its configuration file again and apply it.</summary>
    /// <exception cref="BalancerAdminException">The balancer cannot be reached, or its configuration is not a file (409).</exception>
    public async Task<AdminReloadResult> ReloadAsync(CancellationToken cancellationToken = default)
    {
        // A refused reload answers 422 with the result, which is an answer rather than a failure.
        var body = await SendAsync(HttpMethod.Post, "reload", cancellationToken, accept: 422).ConfigureAwait(false);
        return JsonSerializer.Deserialize(body, AdminJsonContext.Default.AdminReloadResult)
            ?? throw new BalancerAdminException("the balancer sent an empty answer", 0);
    }

    private async Task<AdminCommandResult> CommandAsync(string action, string backend, CancellationToken cancellationToken)
    {
        var body = await SendAsync(HttpMethod.Post, $"backends/{action}?backend={Uri.EscapeDataString(backend)}", cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(body, AdminJsonContext.Default.AdminCommandResult)
            ?? throw new BalancerAdminException("the balancer sent an empty answer", 0);
    }

    private async Task<byte[]> SendAsync(HttpMethod method, string path, CancellationToken cancellationToken, int accept = 0)
    {
        using var request = new HttpRequestMessage(method, new Uri(BaseAddress, path));
        if (method == HttpMethod.Post)
            request.Content = new ByteArrayContent([]) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };
        if (_token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode && (int)response.StatusCode != accept)
            {
                var error = TryReadError(body) ?? response.ReasonPhrase ?? "request refused";
                throw new BalancerAdminException(error, (int)response.StatusCode);
            }
            return body;
        }
        catch (HttpRequestException e)
        {
            throw new BalancerAdminException($"cannot reach toa lb at {Address}: {e.Message}", 0, e);
        }
    }

    private static string? TryReadError(byte[] body)
    {
        try
        {
            return JsonSerializer.Deserialize(body, AdminJsonContext.Default.AdminError)?.Error;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp)
            _http.Dispose();
    }
}

/// <summary>The admin endpoint could not be reached or refused a request.</summary>
public sealed class BalancerAdminException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BalancerAdminException(string message, int statusCode, Exception? inner = null)
        : base(message, inner)
    {
        StatusCode = statusCode;
    }

    /// <summary>The HTTP status (404: no backend matched; 403: a command over TCP without a token configured; 401: a wrong token), or 0 when unreachable.</summary>
    public int StatusCode { get; }
}
