// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Balancer.Configuration;
using Toa.Balancer.Management;

namespace Toa.Balancer.Tests;

/// <summary><see cref="BalancerHost.RunAsync"/>, the entry point of <c>toa lb</c>.</summary>
public sealed class BalancerHostTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("toa-lb-host-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string json)
    {
        var path = Path.Combine(_dir, "lb.json");
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>A port nothing listens on at the moment (loopback; the race is the test's to lose).</summary>
    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    [Fact]
    public async Task RunAsync_ValidFile_ServesUntilCancelledThenStops()
    {
        await using var server = TestServer.Echo();
        var admin = $"127.0.0.1:{FreePort()}";
        var path = Write($$"""{ "admin": "{{admin}}", "listeners": [ { "name": "web", "address": "127.0.0.1:0", "backends": [ { "address": "{{server.Address}}" } ] } ] }""");
        using var stop = new CancellationTokenSource();
        using var client = new BalancerAdminClient(admin);

        using var provider = new FileConfigProvider(path);

        var run = BalancerHost.RunAsync(provider, new NoToaWriter(), stop.Token);
        var status = await StatusWhenUpAsync(client);
        Assert.Equal("web", Assert.Single(status.Listeners).Name);
        var listener = IPEndPoint.Parse(status.Listeners[0].Address);
        using (var connection = await TestClient.ConnectAsync(listener))
        {
            await connection.SendAsync("x"u8.ToArray());
            Assert.Equal("x"u8.ToArray(), await TestClient.ReadExactlyAsync(connection, 1));
        }

        // The file is watched: a change reaches the running balancer.
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"name\": \"web\"", "\"name\": \"web\", \"scheduler\": \"maglev\""));
        await Eventually.True(() => client.GetStatusAsync().Result.Listeners[0].Scheduler == "maglev", "the reload is running");

        stop.Cancel();
        await run.WaitAsync(Eventually.Limit);
        await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(listener));
    }

    [Fact]
    public async Task Start_ListenerAddressTaken_ThrowsAndLeavesNothingRunning()
    {
        await using var taken = TestServer.Echo();
        await using var backend = TestServer.Echo();
        var config = TestHosts.Config(
            TestHosts.Listener("free", backend),
            TestHosts.Listener("web", backend) with { Address = taken.Address });
        var provider = new InMemoryConfigProvider(config);

        Assert.Throws<SocketException>(() => BalancerHost.Start(new BalancerHostOptions { ConfigProvider = provider }));
    }

    private static async Task<BalancerStatus> StatusWhenUpAsync(BalancerAdminClient client)
    {
        BalancerStatus? status = null;
        await Eventually.True(() =>
        {
            try
            {
                status = client.GetStatusAsync().Result;
                return true;
            }
            catch (AggregateException e) when (e.InnerException is BalancerAdminException)
            {
                return false;
            }
        }, "the admin endpoint answers");
        return status!;
    }
}
