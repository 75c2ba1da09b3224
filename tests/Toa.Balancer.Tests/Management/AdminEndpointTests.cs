// SPDX-License-Identifier: MIT
using System.Net.Sockets;
using System.Text;
using Toa.Balancer.Configuration;
using Toa.Balancer.Management;
using Toa.Balancer.Metrics;
using System.Net;

namespace Toa.Balancer.Tests.Management;

/// <summary>The admin endpoint through <see cref="BalancerAdminClient"/>: its Unix socket, and TCP on loopback.</summary>
public sealed class AdminEndpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("toa-lb-admin-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Socket => Path.Combine(_dir, "lb.sock");

    private BalancerConfig Config(params TestServer[] backends) =>
        TestHosts.Config(TestHosts.Listener("web", backends) with { Toa = "tencent" }) with { Admin = "127.0.0.1:0", AdminSocket = Socket, MaxConnections = 50 };

    /// <summary>A host with both the socket and TCP, and a client on the socket.</summary>
    private (BalancerHost Host, BalancerAdminClient Client) Start(params TestServer[] backends)
    {
        var (host, _) = TestHosts.Start(Config(backends));
        return (host, new BalancerAdminClient(host.AdminSocket!));
    }

    /// <summary>One raw request over TCP; the response's status line and body.</summary>
    private static async Task<string> RawAsync(IPEndPoint admin, string request)
    {
        using var socket = await TestClient.ConnectAsync(admin);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        var response = new StringBuilder();
        var buffer = new byte[4096];
        int n;
        while ((n = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Eventually.Limit)) > 0)
            response.Append(Encoding.ASCII.GetString(buffer, 0, n));
        return response.ToString();
    }

    [Fact]
    public async Task GetStatus_RunningHost_ListsListenersAndBackends()
    {
        await using var server = TestServer.Echo();
        var (host, client) = Start(server);
        await using var _h = host.StopOnDispose();
        using var _c = client;

        var status = await client.GetStatusAsync();

        Assert.Equal(50, status.MaxConnections);
        var listener = Assert.Single(status.Listeners);
        Assert.Equal(("web", "tencent", "round-robin"), (listener.Name, listener.Toa, listener.Scheduler));
        Assert.Equal(host.EndPoint().ToString(), listener.Address);
        var backend = Assert.Single(listener.Backends);
        Assert.Equal((server.Address, 1, "healthy", "healthy"), (backend.Address, backend.Weight, backend.Status, backend.Health));
    }

    [Fact]
    public async Task DrainDisableEnable_ByAddress_ChangesStatusAndNamesTheBackend()
    {
        await using var server = TestServer.Echo();
        var (host, client) = Start(server);
        await using var _h = host.StopOnDispose();
        using var _c = client;

        Assert.Equal([$"web/{server.Address}"], (await client.DrainAsync(server.Address)).Backends);
        Assert.Equal("draining", (await client.GetStatusAsync()).Listeners[0].Backends[0].Status);
        await client.DisableAsync($"web/{server.Address}");
        Assert.Equal("disabled", (await client.GetStatusAsync()).Listeners[0].Backends[0].Status);
        await client.EnableAsync(server.Address);
        Assert.Equal("healthy", (await client.GetStatusAsync()).Listeners[0].Backends[0].Status);
    }

    [Fact]
    public async Task Drain_UnknownBackend_NotFoundWithReason()
    {
        await using var server = TestServer.Echo();
        var (host, client) = Start(server);
        await using var _h = host.StopOnDispose();
        using var _c = client;

        var e = await Assert.ThrowsAsync<BalancerAdminException>(() => client.DrainAsync("127.0.0.1:1"));
        Assert.Equal(404, e.StatusCode);
        Assert.Contains("no backend matches \"127.0.0.1:1\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetMetrics_AfterAConnection_ConventionalNamesWithHelp()
    {
        await using var server = TestServer.Echo();
        var (host, client) = Start(server);
        await using var _h = host.StopOnDispose();
        using var _c = client;
        using (var connection = await TestClient.ConnectAsync(host.EndPoint()))
        {
            await connection.SendAsync("hello"u8.ToArray());
            await TestClient.ReadExactlyAsync(connection, 5);
        }

        var text = await client.GetMetricsAsync();

        string[] names =
        [
            "toa_lb_connections_active", "toa_lb_connections_total", "toa_lb_bytes_total", "toa_lb_backend_up",
            "toa_lb_backend_connections_active", "toa_lb_backend_state", "toa_lb_toa_written_total", "toa_lb_toa_failed_total",
            "toa_lb_scheduler_choices_total", "toa_lb_connections_rejected_total", "toa_lb_backend_connect_failures_total",
            "toa_lb_config_reloads_total", "toa_lb_config_last_reload_successful", "toa_lb_config_last_reload_success_timestamp_seconds",
            "toa_build_info", "process_open_handles", "process_working_set_bytes", "process_cpu_seconds_total",
        ];
        foreach (var name in names)
            Assert.Contains($"# HELP {name} ", text, StringComparison.Ordinal);
        Assert.Contains("toa_lb_connections_total{listener=\"web\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("toa_lb_config_last_reload_successful 1", text, StringComparison.Ordinal);
        Assert.Contains($"toa_build_info{{version=\"{ProcessMetrics.Version}\",", text, StringComparison.Ordinal);
        Assert.Contains($"toa_lb_scheduler_choices_total{{listener=\"web\",backend=\"{server.Address}\"}} 1", text, StringComparison.Ordinal);
        Assert.Contains($"toa_lb_backend_up{{listener=\"web\",backend=\"{server.Address}\"}} 1", text, StringComparison.Ordinal);
        Assert.Contains("toa_lb_toa_failed_total{listener=\"web\"} 1", text, StringComparison.Ordinal); // no writer: counted as failed
        await Eventually.True(() => Bytes(host).Result.Contains("direction=\"backend_to_client\"} 5", StringComparison.Ordinal), "the bytes are counted");
    }

    private static async Task<string> Bytes(BalancerHost host)
    {
        using var stream = new MemoryStream();
        await host.WriteMetricsAsync(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    [Theory]
    [InlineData("GET /nowhere HTTP/1.1", "404")]
    [InlineData("POST /status HTTP/1.1", "405")]
    [InlineData("GET /reload HTTP/1.1", "405")]
    public async Task Request_Unsupported_RefusedWithStatus(string requestLine, string status)
    {
        await using var server = TestServer.Echo();
        var (host, client) = Start(server);
        await using var _h = host.StopOnDispose();
        using var _c = client;

        var response = await RawAsync(host.AdminEndPoint!, $"{requestLine}\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

        Assert.StartsWith($"HTTP/1.1 {status} ", response, StringComparison.Ordinal);
        Assert.Contains("\"error\"", response, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("reboot", "127.0.0.1:1", 404)]
    [InlineData("drain", "", 400)]
    public async Task Command_Unsupported_RefusedWithStatus(string action, string backend, int status)
    {
        await using var server = TestServer.Echo();
        var (host, _) = Start(server);
        await using var _h = host.StopOnDispose();
        using var http = SocketHttp(host.AdminSocket!);

        using var response = await http.PostAsync($"backends/{action}" + (backend.Length > 0 ? $"?backend={backend}" : ""), null);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains("\"error\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>An HttpClient on the admin socket, to send what <see cref="BalancerAdminClient"/> would not.</summary>
    private static HttpClient SocketHttp(string path) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, cancel) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancel);
            return new NetworkStream(socket, ownsSocket: true);
        },
    }) { BaseAddress = new Uri("http://localhost/") };

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Socket_Started_Mode0660AndGroupToaWhenItExists()
    {
        await using var server = TestServer.Echo();
        var (host, client) = Start(server);
        await using var _h = host.StopOnDispose();
        using var _c = client;

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(Socket));
        if (Accounts.Group(AdminServer.OperatorGroup) is { } gid)
            Assert.Equal(gid, Owner(Socket).Gid);
    }

    private static (uint Uid, uint Gid) Owner(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%u %g", path]) { RedirectStandardOutput = true })!;
        var ids = stat.StandardOutput.ReadToEnd().Split(' ', StringSplitOptions.TrimEntries);
        stat.WaitForExit();
        return (uint.Parse(ids[0], System.Globalization.CultureInfo.InvariantCulture), uint.Parse(ids[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Command_OverTcpWithoutATokenFile_ForbiddenAndNamesTheSocket()
    {
        await using var server = TestServer.Echo();
        var (host, _) = Start(server);
        await using var _h = host.StopOnDispose();
        using var tcp = new BalancerAdminClient(host.AdminEndPoint!.ToString());

        var e = await Assert.ThrowsAsync<BalancerAdminException>(() => tcp.DrainAsync(server.Address));

        Assert.Equal(403, e.StatusCode);
        Assert.Contains(Socket, e.Message, StringComparison.Ordinal);
        Assert.Equal("healthy", (await tcp.GetStatusAsync()).Listeners[0].Backends[0].Status); // status stays open on TCP
    }

    [Fact]
    public async Task Command_OverTcpWithTheToken_AppliedAndAWrongOneUnauthorized()
    {
        await using var server = TestServer.Echo();
        var tokenFile = Path.Combine(_dir, "token");
        File.WriteAllText(tokenFile, "s3cret-token\n");
        var (host, _) = TestHosts.Start(Config(server) with { AdminTokenFile = tokenFile });
        await using var _h = host.StopOnDispose();
        using var wrong = new BalancerAdminClient(host.AdminEndPoint!.ToString(), token: "guess");
        using var right = new BalancerAdminClient(host.AdminEndPoint!.ToString(), token: "s3cret-token");

        var e = await Assert.ThrowsAsync<BalancerAdminException>(() => wrong.DrainAsync(server.Address));
        Assert.Equal(401, e.StatusCode);
        Assert.Equal([$"web/{server.Address}"], (await right.DrainAsync(server.Address)).Backends);
    }

    [Theory]
    [InlineData("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example", "403")]
    [InlineData("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nSec-Fetch-Site: cross-site", "403")]
    [InlineData("GET /status HTTP/1.1\r\nHost: rebound.evil.example:9180", "403")]
    [InlineData("GET /status HTTP/1.1\r\nHost: localhost:9180", "200")]
    [InlineData("GET /status HTTP/1.1\r\nHost: [::1]:9180", "200")]
    public async Task Request_FromABrowserOrByName_RefusedAndByAddressServed(string head, string status)
    {
        await using var server = TestServer.Echo();
        var (host, _) = Start(server);
        await using var _h = host.StopOnDispose();

        var response = await RawAsync(host.AdminEndPoint!, $"{head}\r\nConnection: close\r\n\r\n");

        Assert.StartsWith($"HTTP/1.1 {status} ", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_BodyBeyondTheCap_Refused413()
    {
        await using var server = TestServer.Echo();
        var (host, _) = Start(server);
        await using var _h = host.StopOnDispose();
        using var http = SocketHttp(host.AdminSocket!);

        using var response = await http.PostAsync($"backends/drain?backend={server.Address}", new ByteArrayContent(new byte[64 * 1024]));

        Assert.Equal(413, (int)response.StatusCode);
        Assert.Equal("healthy", host.GetStatus().Listeners[0].Backends[0].Status);
    }

    [Fact]
    public async Task Connections_BeyondTheCap_ClosedUnansweredAndTheAdminAnswersOnceTheyGo()
    {
        await using var server = TestServer.Echo();
        var (host, client) = Start(server);
        await using var _h = host.StopOnDispose();
        using var _c = client;
        var idle = new List<Socket>();
        try
        {
            // Connections that send nothing hold their slots until the header timeout.
            for (var i = 0; i < 16; i++)
                idle.Add(await TestClient.ConnectAsync(host.AdminEndPoint!));

            string refused;
            try
            {
                refused = await RawAsync(host.AdminEndPoint!, "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            }
            catch (SocketException)
            {
                refused = ""; // closed with a reset
            }

            Assert.Equal("", refused);
        }
        finally
        {
            foreach (var socket in idle)
                socket.Dispose();
        }
        await Eventually.True(() => RawAsync(host.AdminEndPoint!, "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .Result.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal), "the admin answers again");
    }

    [Fact]
    public async Task Start_SocketServedByAnotherBalancer_RefusedAndTheOtherKeepsIt()
    {
        await using var server = TestServer.Echo();
        var (first, _) = Start(server);
        await using var _h = first.StopOnDispose();

        Assert.Throws<IOException>(() => TestHosts.Start(Config(server) with { Admin = "" }));

        using var client = new BalancerAdminClient(Socket);
        Assert.Single((await client.GetStatusAsync()).Listeners);
    }

    [Fact]
    public async Task Start_StaleSocketFileLeftBehind_Replaced()
    {
        await using var server = TestServer.Echo();
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            dead.Bind(new UnixDomainSocketEndPoint(Socket)); // bound, never listening: what a killed process leaves

        var (host, client) = Start(server);
        await using var _h = host.StopOnDispose();
        using var _c = client;

        Assert.Single((await client.GetStatusAsync()).Listeners);
    }

    [Fact]
    public async Task Reload_ConfigurationNotFromAFile_Conflict()
    {
        await using var server = TestServer.Echo();
        var (host, client) = Start(server);
        await using var _h = host.StopOnDispose();
        using var _c = client;

        var e = await Assert.ThrowsAsync<BalancerAdminException>(() => client.ReloadAsync());

        Assert.Equal(409, e.StatusCode);
    }

    [Fact]
    public async Task Client_NothingListening_UnreachableWithAddress()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        var unused = probe.LocalEndPoint!.ToString()!; // bound, not listening: connects are refused
        using var client = new BalancerAdminClient(unused);

        var e = await Assert.ThrowsAsync<BalancerAdminException>(() => client.GetStatusAsync());
        Assert.Equal(0, e.StatusCode);
        Assert.Contains(unused, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_AdminAddressChanged_EndpointMoves()
    {
        await using var server = TestServer.Echo();
        var config = TestHosts.Config(TestHosts.Listener("web", server)) with { Admin = "127.0.0.1:0" };
        var (host, provider) = TestHosts.Start(config);
        await using var _h = host.StopOnDispose();
        Assert.NotNull(host.AdminEndPoint);

        provider.Update(config with { Admin = "" });
        await Eventually.True(() => host.AdminEndPoint is null, "the endpoint is off");
        provider.Update(config with { Admin = "[::1]:0" });
        await Eventually.True(() => host.AdminEndPoint is { } e && e.AddressFamily == AddressFamily.InterNetworkV6, "the endpoint is back on ::1");
        using var client = new BalancerAdminClient(host.AdminEndPoint!.ToString());
        Assert.Single((await client.GetStatusAsync()).Listeners);
    }
}
