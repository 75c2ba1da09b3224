// SPDX-License-Identifier: MIT
using System.Net.Sockets;
using System.Text;
using Toa.Balancer.Configuration;
using Toa.Balancer.Management;

namespace Toa.Balancer.Tests.Management;

/// <summary>The admin endpoint through <see cref="BalancerAdminClient"/>, on loopback.</summary>
public class AdminEndpointTests
{
    private static (BalancerHost Host, BalancerAdminClient Client) Start(params TestServer[] backends)
    {
        var config = TestHosts.Config(TestHosts.Listener("web", backends) with { Toa = "tencent" }) with { Admin = "127.0.0.1:0", MaxConnections = 50 };
        var (host, _) = TestHosts.Start(config);
        return (host, new BalancerAdminClient(host.AdminEndPoint!.ToString()));
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
            "toa_lb_config_reloads_total",
        ];
        foreach (var name in names)
            Assert.Contains($"# HELP {name} ", text, StringComparison.Ordinal);
        Assert.Contains("toa_lb_connections_total{listener=\"web\"} 1", text, StringComparison.Ordinal);
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
    [InlineData("POST /backends/reboot?backend=127.0.0.1:1 HTTP/1.1", "404")]
    [InlineData("POST /backends/drain HTTP/1.1", "400")]
    public async Task Request_Unsupported_RefusedWithStatus(string requestLine, string status)
    {
        await using var server = TestServer.Echo();
        var (host, client) = Start(server);
        await using var _h = host.StopOnDispose();
        using var _c = client;
        using var socket = await TestClient.ConnectAsync(host.AdminEndPoint!);

        await socket.SendAsync(Encoding.ASCII.GetBytes($"{requestLine}\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
        var response = new StringBuilder();
        var buffer = new byte[4096];
        int n;
        while ((n = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Eventually.Limit)) > 0)
            response.Append(Encoding.ASCII.GetString(buffer, 0, n));

        Assert.StartsWith($"HTTP/1.1 {status} ", response.ToString(), StringComparison.Ordinal);
        Assert.Contains("\"error\"", response.ToString(), StringComparison.Ordinal);
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
