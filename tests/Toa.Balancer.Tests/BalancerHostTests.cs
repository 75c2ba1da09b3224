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
        var path = Write($$"""{ "admin": "{{admin}}", "adminSocket": "{{_dir}}/lb.sock", "listeners": [ { "name": "web", "address": "127.0.0.1:0", "backends": [ { "address": "{{server.Address}}" } ] } ] }""");
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
    public async Task RunAsync_ReloadWhileTheToaWriterCannotStart_RefusedNotCountedAsApplied()
    {
        await using var server = TestServer.Echo();
        var socket = Path.Combine(_dir, "lb.sock");
        var path = Write($$"""{ "admin": "", "adminSocket": "{{socket}}", "listeners": [ { "name": "web", "address": "127.0.0.1:0", "backends": [ { "address": "{{server.Address}}" } ] } ] }""");
        using var stop = new CancellationTokenSource();
        var started = new TaskCompletionSource<BalancerHost>();
        using var provider = new FileConfigProvider(path);
        var run = BalancerHost.RunAsync(provider, new RecordingToaWriter(cannotStart: new UnauthorizedAccessException("not root")), stop.Token,
            started: started.SetResult);
        var host = await started.Task.WaitAsync(Eventually.Limit);

        File.WriteAllText(path, File.ReadAllText(path).Replace("\"name\": \"web\"", "\"name\": \"web\", \"toa\": \"tencent\""));
        using var client = new BalancerAdminClient(socket);
        var result = await client.ReloadAsync();
        var metrics = await client.GetMetricsAsync();
        var toa = host.GetStatus().Listeners.Single().Toa;
        stop.Cancel();
        await run.WaitAsync(Eventually.Limit);

        Assert.Equal(AdminReloadResult.Refused, result.Result);
        Assert.Contains("not root", result.Reason, StringComparison.Ordinal);
        Assert.Equal("off", toa);
        // Once, or twice when the file watcher offered the change before the reload did.
        Assert.Contains("toa_lb_config_reloads_total{result=\"refused\"} ", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("toa_lb_config_reloads_total{result=\"applied\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("toa_lb_config_last_reload_successful 0", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ReloadOfAChangedFile_AppliedOnceAndTheSuccessTimeMoves()
    {
        await using var server = TestServer.Echo();
        var socket = Path.Combine(_dir, "lb.sock");
        var path = Write($$"""{ "admin": "", "adminSocket": "{{socket}}", "listeners": [ { "name": "web", "address": "127.0.0.1:0", "backends": [ { "address": "{{server.Address}}" } ] } ] }""");
        using var stop = new CancellationTokenSource();
        var started = new TaskCompletionSource<BalancerHost>();
        using var provider = new FileConfigProvider(path);
        var run = BalancerHost.RunAsync(provider, new NoToaWriter(), stop.Token, started: started.SetResult);
        var host = await started.Task.WaitAsync(Eventually.Limit);
        using var client = new BalancerAdminClient(socket);
        var before = SuccessTime(await client.GetMetricsAsync());

        await Task.Delay(20); // the success time has millisecond resolution
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"name\": \"web\"", "\"name\": \"web\", \"scheduler\": \"maglev\""));
        var result = await client.ReloadAsync();
        // The file watcher sees the same change a moment later and must not apply or count it again.
        await Task.Delay(600);
        var metrics = await client.GetMetricsAsync();
        stop.Cancel();
        await run.WaitAsync(Eventually.Limit);

        Assert.Equal("applied", result.Result);
        Assert.Equal("maglev", host.Config.Listeners![0].Scheduler);
        Assert.Contains("toa_lb_config_reloads_total{result=\"applied\"} 1", metrics, StringComparison.Ordinal);
        Assert.True(SuccessTime(metrics) > before);
    }

    [Fact]
    public async Task RunAsync_FileChangedWhileStarting_TheChangeIsApplied()
    {
        await using var server = TestServer.Echo();
        var config = $$"""{ "admin": "", "adminSocket": "", "listeners": [ { "name": "web", "address": "127.0.0.1:0", "toa": "tencent", "backends": [ { "address": "{{server.Address}}" } ] } ] }""";
        var path = Write(config);
        using var stop = new CancellationTokenSource();
        var started = new TaskCompletionSource<BalancerHost>();
        // The writer is prepared while the host starts: the file changes then, before it serves.
        var writer = new PreparingToaWriter(() => File.WriteAllText(path, config.Replace("\"name\": \"web\"", "\"name\": \"web\", \"scheduler\": \"maglev\"")));
        using var provider = new FileConfigProvider(path);
        var run = BalancerHost.RunAsync(provider, writer, stop.Token, started: started.SetResult);
        var host = await started.Task.WaitAsync(Eventually.Limit);

        await Eventually.True(() => host.Config.Listeners![0].Scheduler == "maglev", "the change made while starting is applied");
        stop.Cancel();
        await run.WaitAsync(Eventually.Limit);
    }

    private sealed class PreparingToaWriter(Action prepare) : IToaWriter
    {
        public void Prepare(int connections) => prepare();

        public void Attach(Socket backend, IPEndPoint client, ToaSettings toa, string listener) => backend.NoDelay = true;

        public IReadOnlyDictionary<string, ToaCounts> Counts() => new Dictionary<string, ToaCounts>();
    }

    private static double SuccessTime(string metrics) => double.Parse(
        metrics.Split('\n').Single(l => l.StartsWith("toa_lb_config_last_reload_success_timestamp_seconds ", StringComparison.Ordinal)).Split(' ')[1],
        System.Globalization.CultureInfo.InvariantCulture);

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
