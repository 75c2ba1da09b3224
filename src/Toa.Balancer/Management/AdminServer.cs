// SPDX-License-Identifier: MIT
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Toa.Balancer.Configuration;
using Toa.Balancer.Model;

namespace Toa.Balancer.Management;

/// <summary>Where the admin endpoint listens and what it trusts; a reload restarts it when these change.</summary>
/// <param name="Address">TCP address text, "" for none.</param>
/// <param name="Socket">Unix socket path, "" for none.</param>
/// <param name="SocketIsDefault">The socket path is the default one, not configured: serve without it when it cannot be made.</param>
/// <param name="TokenFile">The file holding the token commands over TCP carry, or null.</param>
internal sealed record AdminSettings(string Address, string Socket, bool SocketIsDefault, string? TokenFile)
{
    public static AdminSettings From(BalancerConfig config) =>
        new(config.Admin ?? ConfigDefaults.Admin, config.AdminSocket ?? ConfigDefaults.AdminSocket, config.AdminSocket is null, config.AdminTokenFile);
}

/// <summary>
/// The admin and metrics endpoint on <see cref="HttpEndpoint"/>. Routes: <c>GET /metrics</c>,
/// <c>GET /status</c>, <c>POST /backends/{drain|disable|enable}?backend=SPEC</c>, <c>POST /reload</c>.
/// Commands come over the Unix socket (its file mode says who may) or over TCP with the
/// configured token. Browsers are refused outright (any Origin or cross-site Sec-Fetch-Site),
/// and over TCP the Host must be an address literal or localhost, so a page cannot reach the
/// endpoint through a DNS name it rebinds to loopback.
/// </summary>
internal sealed partial class AdminServer : IAsyncDisposable
{
    /// <summary>The group that may use the socket when it exists (operators join it).</summary>
    public const string OperatorGroup = "toa";

    private readonly HttpEndpoint _http;
    private readonly BalancerHost _host;
    private readonly byte[]? _token;

    private AdminServer(AdminSettings settings, HttpEndpoint http, BalancerHost host, byte[]? token)
    {
        Settings = settings;
        _http = http;
        _host = host;
        _token = token;
    }

    public AdminSettings Settings { get; }

    /// <summary>The TCP address with its real port, or null when TCP is off.</summary>
    public IPEndPoint? EndPoint => _http.TcpEndPoints.FirstOrDefault();

    /// <summary>The Unix socket's path, or null when it is off.</summary>
    public string? SocketPath => _http.UnixSocket;

    /// <summary>Binds what <paramref name="settings"/> name.</summary>
    /// <exception cref="IOException">An address cannot be bound or the token file cannot be read.</exception>
    public static AdminServer Start(AdminSettings settings, BalancerHost host, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("Toa.Balancer.Management");
        var token = settings.TokenFile is { } file ? ReadToken(file) : null;
        var socket = settings.Socket.Length == 0 ? null : settings.Socket;
        if (socket is not null && !PrepareDirectory(socket))
        {
            if (!settings.SocketIsDefault)
                throw new IOException($"cannot create the admin socket's directory {Path.GetDirectoryName(socket)}");
            LogNoDefaultSocket(logger, socket, "its directory is missing and cannot be created");
            socket = null;
        }
        else if (socket is not null && settings.SocketIsDefault && HttpEndpoint.SocketAnswers(socket))
        {
            // Another balancer on this machine has the default: this one must not take it over.
            LogNoDefaultSocket(logger, socket, "another balancer serves on it");
            socket = null;
        }
        Endpoints.TryParse(settings.Address, out var tcp);
        AdminServer? server = null;
        var http = HttpEndpoint.StartAsync(new HttpEndpointOptions
        {
            Tcp = tcp is null ? [] : [tcp],
            UnixSocket = socket,
            LoggerFactory = loggers,
        }, context => server!.HandleAsync(context)).GetAwaiter().GetResult();
        server = new AdminServer(settings, http, host, token);
        if (socket is not null)
            Accounts.RestrictToGroup(socket, OperatorGroup);
        return server;
    }

    private static byte[] ReadToken(string file)
    {
        try
        {
            var token = File.ReadAllText(file).Trim();
            return token.Length > 0 ? Encoding.UTF8.GetBytes(token) : throw new IOException($"adminTokenFile {file} is empty");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"adminTokenFile {file}: {e.Message}", e);
        }
    }

    /// <summary>Makes the socket's directory (/run/toa) when it is missing; false when that is not allowed.</summary>
    private static bool PrepareDirectory(string socket)
    {
        var directory = Path.GetDirectoryName(socket)!;
        if (Directory.Exists(directory) || OperatingSystem.IsWindows())
            return true;
        try
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        // A Unix socket's peer has no IP address.
        var overSocket = context.Connection.RemoteIpAddress is null;
        var (status, body, type) = Refusal(request, overSocket) ?? await RouteAsync(context, overSocket).ConfigureAwait(false);
        if (body is null)
            return; // written already (metrics)
        context.Response.StatusCode = status;
        context.Response.ContentType = type;
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Why a request is refused before routing, or null.</summary>
    private static (int, byte[]?, string)? Refusal(HttpRequest request, bool overSocket)
    {
        if (request.Headers.Origin.Count > 0 || request.Headers["Sec-Fetch-Site"] is { Count: > 0 } site && site != "none")
            return Error(403, "requests from web pages are refused");
        if (!overSocket && !IsLiteralHost(request.Host.Host))
            return Error(403, $"Host \"{request.Host.Host}\" is not an address: ask for the endpoint by its address (or localhost)");
        return null;
    }

    private static bool IsLiteralHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || IPAddress.TryParse(host.Trim('[', ']'), out _);

    private async Task<(int, byte[]?, string)> RouteAsync(HttpContext context, bool overSocket)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        switch (request.Method, path)
        {
            case ("GET", "/metrics"):
                context.Response.ContentType = Prometheus.PrometheusConstants.TextContentTypeWithVersionAndEncoding;
                await _host.WriteMetricsAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
                return (200, null, "");
            case ("GET", "/status"):
                return Json(200, _host.GetStatus(), AdminJsonContext.Default.BalancerStatus);
            case ("POST", _) when path.StartsWith("/backends/", StringComparison.Ordinal) || path == "/reload":
                if (Unauthorized(request, overSocket) is { } refused)
                    return refused;
                return path == "/reload"
                    ? await ReloadAsync().ConfigureAwait(false)
                    : Command(path["/backends/".Length..], request.Query["backend"].FirstOrDefault());
            case (_, "/metrics" or "/status"):
                return Error(405, $"{path} takes GET");
            case (_, "/reload"):
                return Error(405, "/reload takes POST");
            default:
                return Error(404, $"no such route: {request.Method} {path}");
        }
    }

    private (int, byte[]?, string)? Unauthorized(HttpRequest request, bool overSocket)
    {
        if (overSocket)
            return null;
        if (_token is null)
        {
            return Error(403, "commands over TCP need an adminTokenFile in the configuration; use the admin socket"
                + (Settings.Socket.Length > 0 ? $" ({Settings.Socket})" : ""));
        }
        var given = request.Headers.Authorization.FirstOrDefault() is { } header && header.StartsWith("Bearer ", StringComparison.Ordinal)
            ? Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()) : [];
        return CryptographicOperations.FixedTimeEquals(given, _token) ? null : Error(401, "the admin token is missing or wrong");
    }

    private async Task<(int, byte[]?, string)> ReloadAsync()
    {
        var result = await _host.ReloadAsync().ConfigureAwait(false);
        return result is null
            ? Error(409, "this balancer's configuration does not come from a file")
            : Json(result.Result == AdminReloadResult.Refused ? 422 : 200, result, AdminJsonContext.Default.AdminReloadResult);
    }

    private (int, byte[]?, string) Command(string action, string? backend)
    {
        BackendAdminState? state = action switch
        {
            "drain" => BackendAdminState.Draining,
            "disable" => BackendAdminState.Disabled,
            "enable" => BackendAdminState.Active,
            _ => null,
        };
        if (state is null)
            return Error(404, $"no such command: {action} (drain, disable, enable)");
        if (string.IsNullOrEmpty(backend))
            return Error(400, "the backend=ADDRESS or backend=LISTENER/ADDRESS parameter is missing");
        var matched = _host.SetAdminState(backend, state.Value);
        return matched.Count == 0
            ? Error(404, $"no backend matches \"{backend}\"")
            : Json(200, new AdminCommandResult(matched), AdminJsonContext.Default.AdminCommandResult);
    }

    private static (int, byte[]?, string) Json<T>(int status, T value, JsonTypeInfo<T> type) =>
        (status, JsonSerializer.SerializeToUtf8Bytes(value, type), "application/json");

    private static (int, byte[]?, string) Error(int status, string message) =>
        Json(status, new AdminError(message), AdminJsonContext.Default.AdminError);

    public ValueTask DisposeAsync() => _http.DisposeAsync();

    [LoggerMessage(EventId = 402, EventName = "AdminNoDefaultSocket", Level = LogLevel.Warning,
        Message = "No admin socket at {Path} ({Reason}): commands are off; set adminSocket to a path of this balancer's own")]
    private static partial void LogNoDefaultSocket(ILogger logger, string path, string reason);
}
