// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// <c>toa lb</c> as a process across namespaces: a reload during a long transfer, a backend that
/// dies and comes back, a bad configuration. Status is read with <c>toa lb status</c>.
/// </summary>
public sealed class BalancerLifecycleTests(BalancerLifecycleTests.Topology topology) : IClassFixture<BalancerLifecycleTests.Topology>
{
    private const int BulkPort = 90;
    private const int PairPort = 91;
    private const int EchoPort = 8200;
    private const int AddedEchoPort = 8201;
    private const int PairFirst = 8301;
    private const int PairSecond = 8302;

    [Fact]
    public async Task Reload_DuringALongTransfer_TheTransferArrivesIntact()
    {
        var lab = topology.Require();
        using var added = lab.Hosts.Server.StartEchoServer(lab.Hosts.ServerAddress, AddedEchoPort);
        var data = new byte[16 << 20];
        new Random(7).NextBytes(data);
        using var socket = await BalancerLab.ConnectAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, BulkPort));
        var echoed = ReadAllAsync(socket);

        await socket.SendAsync(data.AsMemory(0, data.Length / 2));
        var reloads = topology.Balancer.Error.Count(IsReload);
        await lab.WriteConfigAsync(topology.Config(lab, bulkBackends: [EchoPort, AddedEchoPort]));
        await topology.Balancer.WaitForLineAsync(_ => topology.Balancer.Error.Count(IsReload) > reloads, TimeSpan.FromSeconds(30));
        await socket.SendAsync(data.AsMemory(data.Length / 2));
        socket.Shutdown(SocketShutdown.Send);
        var received = await echoed.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.Equal(data.Length, received.Length);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(received));
        var bulk = (await StatusAsync(lab)).GetProperty("listeners").EnumerateArray().Single(l => l.GetProperty("name").GetString() == "bulk");
        Assert.Equal(2, bulk.GetProperty("backends").GetArrayLength());
    }

    [Fact]
    public async Task BackendKilled_EjectedAndSkippedThenBackAfterRiseChecks()
    {
        var lab = topology.Require();
        var first = $"{lab.Hosts.ServerAddress}:{PairFirst}";
        var second = $"{lab.Hosts.ServerAddress}:{PairSecond}";
        var before = await PairAsync(lab);

        topology.SecondPairBackend.Dispose();
        var ejected = await WaitForAsync(lab, s => s[second].Status == "unhealthy");
        for (var i = 0; i < 4; i++)
            await EchoOnceAsync(lab);
        var during = await PairAsync(lab);
        topology.SecondPairBackend = lab.Hosts.Server.StartEchoServer(lab.Hosts.ServerAddress, PairSecond);
        var back = await WaitForAsync(lab, s => s[second].Status == "healthy");

        Assert.Equal("healthy", before[second].Status);
        Assert.Equal(ejected[second].Total, during[second].Total);
        Assert.Equal(ejected[first].Total + 4, during[first].Total);
        Assert.Equal("healthy", back[first].Status);
    }

    [Fact]
    public async Task BadConfig_ExitsTwoNamingFileAndField()
    {
        var lab = topology.Require();
        var path = Path.Combine(Path.GetDirectoryName(lab.ConfigPath)!, "bad.json");
        await File.WriteAllTextAsync(path, $$"""
            { "listeners": [ { "name": "web", "address": "{{lab.Hosts.BalancerFor4}}:92", "toa": "tencent",
                               "backends": [ { "address": "{{lab.Hosts.ServerAddress}}" } ] } ] }
            """);

        var result = await lab.ToaAsync("lb", "--config", path);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"fail: toa[6] {path}: listeners[0].backends[0].address = \"{lab.Hosts.ServerAddress}\": must be an address and a port other than 0: \"10.0.0.1:80\", \"[fd00::1]:80\"",
            result.StandardError.Trim());
    }

    private static bool IsReload(string line) => line.Contains("Reloaded ", StringComparison.Ordinal);

    private static async Task<byte[]> ReadAllAsync(Socket socket)
    {
        using var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await socket.ReceiveAsync(buffer)) > 0)
            all.Write(buffer, 0, n);
        return all.ToArray();
    }

    private static async Task EchoOnceAsync(BalancerLab lab)
    {
        using var socket = await BalancerLab.ConnectAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, PairPort));
        await socket.SendAsync("x"u8.ToArray());
        socket.Shutdown(SocketShutdown.Send);
        var echoed = await ReadAllAsync(socket);
        Assert.Equal("x"u8.ToArray(), echoed);
    }

    private static async Task<JsonElement> StatusAsync(BalancerLab lab)
    {
        var result = await lab.ToaAsync("lb", "status", "--json");
        Assert.True(result.ExitCode == 0, result.StandardError);
        return JsonDocument.Parse(result.StandardOutput).RootElement.Clone();
    }

    private static async Task<Dictionary<string, (string Status, long Total)>> PairAsync(BalancerLab lab) =>
        (await StatusAsync(lab)).GetProperty("listeners").EnumerateArray().Single(l => l.GetProperty("name").GetString() == "pair")
            .GetProperty("backends").EnumerateArray()
            .ToDictionary(b => b.GetProperty("address").GetString()!,
                b => (b.GetProperty("status").GetString()!, b.GetProperty("totalConnections").GetInt64()));

    /// <summary>Asks <c>toa lb status</c> until <paramref name="condition"/> holds (health checks run every 300 ms).</summary>
    private static async Task<Dictionary<string, (string Status, long Total)>> WaitForAsync(
        BalancerLab lab, Func<Dictionary<string, (string Status, long Total)>, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var pair = await PairAsync(lab);
            if (condition(pair))
                return pair;
            Assert.True(DateTime.UtcNow < deadline, $"the pool never got there: {string.Join(", ", pair)}");
            await Task.Delay(100);
        }
    }

    /// <summary>A balancer with a bulk listener (TOA on) and a pair of backends checked often, and their echo servers.</summary>
    public sealed class Topology : BalancerFixture
    {
        private EchoServer? _echo;
        private EchoServer? _pairFirst;

        public LabProcess Balancer { get; private set; } = null!;

        public EchoServer SecondPairBackend { get; set; } = null!;

        public string Config(BalancerLab lab, int[] bulkBackends) => $$"""
            {
              "shutdownTimeout": "2s",
              "listeners": [
                { "name": "bulk", "address": "{{lab.Hosts.BalancerFor4}}:{{BulkPort}}", "toa": "tencent",
                  "backends": [ {{string.Join(", ", bulkBackends.Select(p => $"{{ \"address\": \"{lab.Hosts.ServerAddress}:{p}\" }}"))}} ] },
                { "name": "pair", "address": "{{lab.Hosts.BalancerFor4}}:{{PairPort}}", "scheduler": "round-robin",
                  "health": { "interval": "300ms", "timeout": "200ms", "rise": 2, "fall": 2 },
                  "backends": [ { "address": "{{lab.Hosts.ServerAddress}}:{{PairFirst}}" }, { "address": "{{lab.Hosts.ServerAddress}}:{{PairSecond}}" } ] },
              ],
            }
            """;

        protected override async Task StartAsync(BalancerLab lab)
        {
            _echo = lab.Hosts.Server.StartEchoServer(lab.Hosts.ServerAddress, EchoPort);
            _pairFirst = lab.Hosts.Server.StartEchoServer(lab.Hosts.ServerAddress, PairFirst);
            SecondPairBackend = lab.Hosts.Server.StartEchoServer(lab.Hosts.ServerAddress, PairSecond);
            Balancer = await lab.StartBalancerAsync(Config(lab, [EchoPort]), listeners: 2);
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            _echo?.Dispose();
            _pairFirst?.Dispose();
            SecondPairBackend?.Dispose();
        }
    }
}
