// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Toa.Balancer.Configuration;
using Toa.Balancer.Model;
using Toa.Balancer.Relay;

namespace Toa.Balancer.Management;

/// <summary>
/// The admin and metrics endpoint: a deliberately small HTTP/1.1 server (one request per
/// connection) so that the library needs no web stack. Routes:
/// <c>GET /metrics</c>, <c>GET /status</c>, <c>POST /backends/{drain|disable|enable}?backend=SPEC</c>.
/// Commands are answered only for loopback peers.
/// </summary>
internal sealed partial class AdminServer : IDisposable
{
    private const int MaxHeadBytes = 8192;
    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly BalancerHost _host;
    private readonly ILogger _logger;

    /// <summary>Binds <paramref name="address"/> (validated by the configuration) and starts serving.</summary>
    public AdminServer(string address, BalancerHost host, ILogger logger)
    {
        Address = address;
        _host = host;
        _logger = logger;
        Endpoints.TryParse(address, out var endPoint);
        _socket = ListenSockets.Listen(endPoint, backlog: 64);
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _ = AcceptLoopAsync();
    }

    /// <summary>The configured address text (a reload compares it).</summary>
    public string Address { get; }

    public IPEndPoint EndPoint { get; }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var stream = new NetworkStream(client, ownsSocket: true);
        using var timeout = new CancellationTokenSource(s_requestTimeout);
        try
        {
            var (method, target) = await ReadRequestAsync(stream, timeout.Token).ConfigureAwait(false);
            var peer = ((IPEndPoint)client.RemoteEndPoint!).Address;
            var (status, contentType, body) = await RouteAsync(method, target, peer, timeout.Token).ConfigureAwait(false);
            var head = string.Create(CultureInfo.InvariantCulture,
                $"HTTP/1.1 {status} {Reason(status)}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token).ConfigureAwait(false);
            await stream.WriteAsync(body, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or FormatException)
        {
            LogBadRequest(_logger, client.RemoteEndPoint, e.Message);
        }
        catch (Exception e)
        {
            // Nothing awaits this task: log rather than leave the failure unobserved.
            LogRequestFailed(_logger, e, client.RemoteEndPoint);
        }
    }

    /// <summary>Reads the request line and headers, and any body (so closing does not reset the peer).</summary>
    private static async Task<(string Method, string Target)> ReadRequestAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxHeadBytes];
        var length = 0;
        int end;
        while ((end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (length == buffer.Length)
                throw new FormatException("request head too long");
            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
                throw new FormatException("connection closed before the request was complete");
            length += read;
        }
        var lines = Encoding.ASCII.GetString(buffer, 0, end).Split("\r\n");
        var parts = lines[0].Split(' ');
        if (parts.Length != 3)
            throw new FormatException("malformed request line");
        var contentLength = lines.Skip(1)
            .Select(l => l.Split(':', 2))
            .Where(h => h.Length == 2 && h[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            .Select(h => int.Parse(h[1].Trim(), CultureInfo.InvariantCulture))
            .FirstOrDefault();
        for (var pending = contentLength - (length - end - 4); pending > 0;)
        {
            var read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (read == 0)
                break;
            pending -= read;
        }
        return (parts[0], parts[1]);
    }

    private async Task<(int Status, string ContentType, byte[] Body)> RouteAsync(string method, string target, IPAddress peer, CancellationToken cancellationToken)
    {
        var query = target.IndexOf('?');
        var path = query < 0 ? target : target[..query];
        switch (method, path)
        {
            case ("GET", "/metrics"):
                using (var metrics = new MemoryStream())
                {
                    await _host.WriteMetricsAsync(metrics, cancellationToken).ConfigureAwait(false);
                    return (200, "text/plain; version=0.0.4; charset=utf-8", metrics.ToArray());
                }
            case ("GET", "/status"):
                return Json(200, JsonSerializer.SerializeToUtf8Bytes(_host.GetStatus(), AdminJsonContext.Default.BalancerStatus));
            case ("POST", _) when path.StartsWith("/backends/", StringComparison.Ordinal):
                return Command(path["/backends/".Length..], query < 0 ? "" : target[(query + 1)..], peer);
            case (_, "/metrics" or "/status"):
                return Error(405, $"{path} takes GET");
            default:
                return Error(404, $"no such route: {method} {path}");
        }
    }

    private (int, string, byte[]) Command(string action, string query, IPAddress peer)
    {
        if (!IPAddress.IsLoopback(peer))
            return Error(403, "commands are taken from loopback only");
        BackendAdminState? state = action switch
        {
            "drain" => BackendAdminState.Draining,
            "disable" => BackendAdminState.Disabled,
            "enable" => BackendAdminState.Active,
            _ => null,
        };
        if (state is null)
            return Error(404, $"no such command: {action} (drain, disable, enable)");
        var backend = query.Split('&')
            .Select(p => p.Split('=', 2))
            .Where(p => p.Length == 2 && p[0] == "backend")
            .Select(p => Uri.UnescapeDataString(p[1]))
            .FirstOrDefault();
        if (string.IsNullOrEmpty(backend))
            return Error(400, "the backend=ADDRESS or backend=LISTENER/ADDRESS parameter is missing");
        var matched = _host.SetAdminState(backend, state.Value);
        return matched.Count == 0
            ? Error(404, $"no backend matches \"{backend}\"")
            : Json(200, JsonSerializer.SerializeToUtf8Bytes(new AdminCommandResult(matched), AdminJsonContext.Default.AdminCommandResult));
    }

    private static (int, string, byte[]) Json(int status, byte[] body) => (status, "application/json", body);

    private static (int, string, byte[]) Error(int status, string message) =>
        Json(status, JsonSerializer.SerializeToUtf8Bytes(new AdminError(message), AdminJsonContext.Default.AdminError));

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };

    public void Dispose() => _socket.Dispose();

    [LoggerMessage(EventId = 400, EventName = "AdminBadRequest", Level = LogLevel.Debug, Message = "Admin request from {Peer} failed: {Reason}")]
    private static partial void LogBadRequest(ILogger logger, EndPoint? peer, string reason);

    [LoggerMessage(EventId = 401, EventName = "AdminRequestFailed", Level = LogLevel.Error, Message = "Admin request from {Peer} failed unexpectedly")]
    private static partial void LogRequestFailed(ILogger logger, Exception exception, EndPoint? peer);
}
