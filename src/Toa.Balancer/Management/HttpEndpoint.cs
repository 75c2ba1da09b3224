// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Toa.Balancer.Management;

/// <summary>Where and how an <see cref="HttpEndpoint"/> serves.</summary>
public sealed record HttpEndpointOptions
{
    /// <summary>TCP addresses to listen on (port 0 picks a free one).</summary>
    public IReadOnlyList<IPEndPoint> Tcp { get; init; } = [];

    /// <summary>A Unix socket to listen on, or null. A stale socket file is replaced; one that answers is not.</summary>
    public string? UnixSocket { get; init; }

    /// <summary>Connections served at once; more wait in the backlog. Default: 16 (a scraper and a few operators).</summary>
    public long MaxConnections { get; init; } = 16;

    /// <summary>Largest request body. Default: 4 KiB (no route takes a body).</summary>
    public long MaxBodyBytes { get; init; } = 4096;

    /// <summary>Kestrel's own logs. Default: none.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
}

/// <summary>
/// A small HTTP server on Kestrel (no routing, no configuration sources): the balancer's admin
/// endpoint and both Prometheus exporters (<c>toa lb</c>, <c>toa metrics</c>) are one of these
/// with their own request handler. Kestrel enforces the limits: connections, header and body
/// sizes, and the time a client may take to send its headers.
/// </summary>
public sealed class HttpEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HttpEndpoint(WebApplication app, IReadOnlyList<IPEndPoint> tcp, string? unixSocket)
    {
        _app = app;
        TcpEndPoints = tcp;
        UnixSocket = unixSocket;
    }

    /// <summary>The bound TCP addresses, with their real ports.</summary>
    public IReadOnlyList<IPEndPoint> TcpEndPoints { get; }

    /// <summary>The Unix socket's path, or null.</summary>
    public string? UnixSocket { get; }

    /// <summary>Binds every address and serves <paramref name="handler"/> until disposed.</summary>
    /// <exception cref="IOException">An address cannot be bound (in use, no permission), or another process answers on the socket.</exception>
    public static async Task<HttpEndpoint> StartAsync(HttpEndpointOptions options, RequestDelegate handler)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        if (options.UnixSocket is { } path)
            ClearStaleSocket(path);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        // Kestrel's warnings and errors reach the caller's logs; its per-request information does not.
        builder.Logging.AddProvider(new ForwardingLoggerProvider(options.LoggerFactory));
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // Signals are the command's to handle: the default lifetime would stop this endpoint on SIGTERM by itself.
        builder.Services.AddSingleton<IHostLifetime, NoLifetime>();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = 0;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = 8192;
            kestrel.Limits.MaxRequestLineSize = 4096;
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(5);
            foreach (var endPoint in options.Tcp)
                kestrel.Listen(endPoint);
            if (options.UnixSocket is { } socket)
                kestrel.ListenUnixSocket(socket);
        });
        var app = builder.Build();
        ((IApplicationBuilder)app).Run(async context =>
        {
            // Read (and drop) any body first: Kestrel enforces MaxBodyBytes only on a body being read,
            // answering 413 when it is exceeded.
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted).ConfigureAwait(false);
            await handler(context).ConfigureAwait(false);
        });
        try
        {
            await app.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw e as IOException ?? new IOException(e.Message, e);
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Where(a => !a.StartsWith("http://unix:", StringComparison.Ordinal))
            .Select(a => new Uri(a))
            .Select(u => new IPEndPoint(IPAddress.Parse(u.Host.Trim('[', ']')), u.Port))
            .ToArray();
        return new HttpEndpoint(app, bound, options.UnixSocket);
    }

    /// <summary>Whether a process accepts connections on the Unix socket <paramref name="path"/>.</summary>
    public static bool SocketAnswers(string path)
    {
        if (!File.Exists(path))
            return false;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Removes a socket file nothing answers on (left by a process that died); refuses one that answers.</summary>
    private static void ClearStaleSocket(string path)
    {
        if (SocketAnswers(path))
            throw new IOException($"{path}: another process serves on this socket");
        if (File.Exists(path))
            File.Delete(path);
    }

    private sealed class ForwardingLoggerProvider(ILoggerFactory factory) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => factory.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }

    private sealed class NoLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // Requests in flight get a second: one of them may be the reload that stops this endpoint.
        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
            await _app.StopAsync(grace.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        if (UnixSocket is { } path)
        {
            try
            {
                File.Delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left for the next start to replace (after dropping root the directory may not be ours).
            }
        }
    }
}
