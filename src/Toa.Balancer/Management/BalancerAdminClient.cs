// SPDX-License-Identifier: MIT
using System.Net.Http.Headers;
using System.Text.Json;
using Toa.Balancer.Configuration;

namespace Toa.Balancer.Management;

/// <summary>
/// Talks to a running balancer's admin endpoint: what <c>toa lb status</c>, <c>drain</c>,
/// <c>disable</c> and <c>enable</c> use.
/// </summary>
public sealed class BalancerAdminClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    /// <summary>A client for the endpoint at <paramref name="address"/> ("127.0.0.1:9180", "[::1]:9180").</summary>
    /// <param name="address">The balancer's <c>admin</c> address.</param>
    /// <param name="http">An HttpClient to use; one is made (and disposed) when null.</param>
    /// <exception cref="ArgumentException">The address is not an address and port.</exception>
    public BalancerAdminClient(string address = ConfigDefaults.Admin, HttpClient? http = null)
    {
        if (!Endpoints.TryParse(address, out var endPoint))
            throw new ArgumentException($"\"{address}\" is not an address and port, e.g. 127.0.0.1:9180", nameof(address));
        _ownsHttp = http is null;
        _http = http ?? new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        BaseAddress = new Uri($"http://{endPoint}/");
    }

    /// <summary>The endpoint's base URI.</summary>
    public Uri BaseAddress { get; }

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

    private async Task<AdminCommandResult> CommandAsync(string action, string backend, CancellationToken cancellationToken)
    {
        var body = await SendAsync(HttpMethod.Post, $"backends/{action}?backend={Uri.EscapeDataString(backend)}", cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(body, AdminJsonContext.Default.AdminCommandResult)
            ?? throw new BalancerAdminException("the balancer sent an empty answer", 0);
    }

    private async Task<byte[]> SendAsync(HttpMethod method, string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(BaseAddress, path));
        if (method == HttpMethod.Post)
            request.Content = new ByteArrayContent([]) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var error = TryReadError(body) ?? response.ReasonPhrase ?? "request refused";
                throw new BalancerAdminException(error, (int)response.StatusCode);
            }
            return body;
        }
        catch (HttpRequestException e)
        {
            throw new BalancerAdminException($"cannot reach toa lb at {BaseAddress}: {e.Message}", 0, e);
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

    /// <summary>The HTTP status (404: no backend matched; 403: not from loopback), or 0 when unreachable.</summary>
    public int StatusCode { get; }
}
