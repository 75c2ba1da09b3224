// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Toa.Balancer.Configuration;
using Toa.Balancer.Health;

namespace Toa.Balancer.Tests.Health;

/// <summary>
/// HTTP health checks against a real HTTP server (Kestrel on loopback) through a running host:
/// the status it answers decides the backend's health; the TCP check would not notice.
/// </summary>
public class HttpHealthCheckTests
{
    /// <summary>Kestrel answering GET /healthz with <see cref="Status"/>; other paths are 404.</summary>
    private sealed class HealthServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _status = 200;
        private int _requests;

        private HealthServer(WebApplication app) => _app = app;

        public int Status { get => Volatile.Read(ref _status); set => Volatile.Write(ref _status, value); }

        public int Requests => Volatile.Read(ref _requests);

        public string Address { get; private set; } = "";

        public static async Task<HealthServer> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var server = new HealthServer(app);
            app.MapGet("/healthz", () =>
            {
                Interlocked.Increment(ref server._requests);
                return Results.StatusCode(server.Status);
            });
            await app.StartAsync();
            var url = new Uri(app.Urls.Single());
            server.Address = $"127.0.0.1:{url.Port}";
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private static HealthConfig Http(string path = "/healthz", int? expect = null) => new()
    {
        // Roomy for a loaded machine: a check that times out would count as a failure.
        Interval = TimeSpan.FromMilliseconds(500),
        Timeout = TimeSpan.FromMilliseconds(500),
        Rise = 1,
        Fall = 1,
        Http = new HttpHealthConfig { Path = path, Expect = expect },
    };

    private static (BalancerHost Host, InMemoryConfigProvider Provider) Start(string backend, HealthConfig health) =>
        TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", [backend]) with { Health = health }), TimeProvider.System);

    private static string Status(BalancerHost host) => host.GetStatus().Listeners.Single().Backends.Single().Status;

    [Fact]
    public async Task HttpCheck_Answers200Then503ThenAgain200_HealthyUnhealthyHealthy()
    {
        await using var server = await HealthServer.StartAsync();
        var (host, _) = Start(server.Address, Http());
        await using var _h = host.StopOnDispose();
        await Eventually.True(() => server.Requests >= 1 && Status(host) == "healthy", "the backend was checked and is healthy");

        server.Status = 503;
        await Eventually.True(() => Status(host) == "unhealthy", "a 503 took the backend out");
        server.Status = 200;
        await Eventually.True(() => Status(host) == "healthy", "a 200 brought it back");
    }

    [Fact]
    public async Task HttpCheck_ExpectedStatusOtherThan200_IsTheHealthyOne()
    {
        await using var server = await HealthServer.StartAsync();
        server.Status = 204;
        var (host, provider) = Start(server.Address, Http(expect: 200));
        await using var _h = host.StopOnDispose();
        await Eventually.True(() => Status(host) == "unhealthy", "a 204 is not the expected 200");

        Assert.True(provider.Update(TestHosts.Config(TestHosts.Listener("web", [server.Address]) with { Health = Http(expect: 204) })));
        await Eventually.True(() => Status(host) == "healthy", "204 is now the expected status");
    }

    [Fact]
    public async Task HttpCheck_WrongPath_404IsUnhealthyThoughTcpConnects()
    {
        await using var server = await HealthServer.StartAsync();
        var (host, _) = Start(server.Address, Http(path: "/missing"));
        await using var _h = host.StopOnDispose();

        await Eventually.True(() => Status(host) == "unhealthy", "the 404 took the backend out");
        Assert.Equal(0, server.Requests);
    }

    [Fact]
    public async Task HttpCheck_BackendAcceptsButNeverAnswers_UnhealthyAtTheTimeout()
    {
        // Connects complete in the backlog; nothing ever reads or answers.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen(64);
        var (host, _) = Start(silent.LocalEndPoint!.ToString()!, Http());
        await using var _h = host.StopOnDispose();

        await Eventually.True(() => Status(host) == "unhealthy", "the unanswered check timed out");
    }

    [Theory]
    [InlineData("\"path\": \"healthz\"", "listeners[0].health.http.path = \"healthz\": must start with '/'")]
    [InlineData("\"path\": \"/health z\"", "listeners[0].health.http.path = \"/health z\": must start with '/'")]
    [InlineData("\"expect\": 200", "listeners[0].health.http.path: a path is required")]
    [InlineData("\"path\": \"/healthz\", \"expect\": 99", "listeners[0].health.http.expect = 99: must be an HTTP status code, 100 to 599")]
    public void Parse_BadHttpCheck_RefusedNamingTheField(string http, string problem)
    {
        var json = $$"""
            { "listeners": [ { "name": "web", "address": "127.0.0.1:0", "health": { "http": { {{http}} } },
                               "backends": [ { "address": "127.0.0.1:9001" } ] } ] }
            """;

        var e = Assert.Throws<BalancerConfigException>(() => BalancerConfigLoader.Parse(json, "lb.json"));

        Assert.StartsWith("lb.json: " + problem, Assert.Single(e.Problems).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_HttpCheck_PathAndDefaultExpect()
    {
        var config = BalancerConfigLoader.Parse("""
            { "listeners": [ { "name": "web", "address": "127.0.0.1:0", "health": { "http": { "path": "/healthz?full=1" } },
                               "backends": [ { "address": "127.0.0.1:9001" } ] } ] }
            """, "lb.json");

        Assert.Equal(new HttpProbe("/healthz?full=1", 200), ListenerSettings.From(config.Listeners![0]).Health.Http);
    }

    [Theory]
    [InlineData(200, true)]
    [InlineData(503, false)]
    public async Task Probe_Kestrel_TrueOnlyForTheExpectedStatus(int status, bool healthy)
    {
        await using var server = await HealthServer.StartAsync();
        server.Status = status;

        Assert.Equal(healthy, await new HttpProbe("/healthz", 200).ProbeAsync(IPEndPoint.Parse(server.Address), IPAddress.Loopback, CancellationToken.None));
        Assert.Equal(1, server.Requests);
    }

    [Fact]
    public async Task Probe_Refused_False()
    {
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var endPoint = (IPEndPoint)closed.LocalEndPoint!; // bound, never listening: refused

        Assert.False(await new HttpProbe("/healthz", 200).ProbeAsync(endPoint, null, CancellationToken.None));
    }
}
