// SPDX-License-Identifier: MIT
using System.Net;
using System.Text.Json;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// <c>toa lb</c> started with TOA off everywhere, so with no writer loaded, and a reload that turns
/// it on: the real server, under the receiver, must see the client from the next connection on.
/// </summary>
public sealed class BalancerToaReloadTests
{
    private const int CServerPort = 8000;
    private const int Port = 80;

    private static string Config(BalancerLab lab, string toa) => $$"""
        { "shutdownTimeout": "2s",
          "listeners": [ { "name": "web", "address": "{{lab.Hosts.BalancerFor4}}:{{Port}}", "toa": "{{toa}}",
                           "backends": [ { "address": "{{lab.Hosts.ServerAddress}}:{{CServerPort}}" } ] } ] }
        """;

    [Fact]
    public async Task Reload_ToaTurnedOnWhenNoListenerHadIt_TheWriterStartsAndTheServerSeesTheClient()
    {
        KernelTest.Require();
        await using var lab = new BalancerLab();
        var server = await lab.StartCServerAsync(CServerPort);
        var balancer = await lab.StartBalancerAsync(Config(lab, "off"), listeners: 1);
        var before = await BalancerLab.EchoLineAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, Port));
        await server.WaitForLineAsync(l => l.StartsWith($"accepted v4 [{lab.Hosts.BalancerToServer}]:", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        var startedBefore = balancer.Error.Any(l => l.Contains("TOA writer attached", StringComparison.Ordinal));

        await lab.WriteConfigAsync(Config(lab, "tencent"));
        await WaitForToaAsync(lab, "tencent");
        var after = await BalancerLab.EchoLineAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, Port));

        await server.WaitForLineAsync(l => l == $"accepted v4 [{after.Address}]:{after.Port}", TimeSpan.FromSeconds(30));
        Assert.False(startedBefore);
        Assert.Single(balancer.Error, l => l.Contains("TOA writer attached", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Output, l => l.Contains($"[{before.Address}]:{before.Port}", StringComparison.Ordinal));
    }

    /// <summary>Asks <c>toa lb status</c> until the listener runs with <paramref name="toa"/>.</summary>
    private static async Task WaitForToaAsync(BalancerLab lab, string toa)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var result = await lab.ToaAsync("lb", "status", "--json");
            Assert.True(result.ExitCode == 0, result.StandardError);
            var running = JsonDocument.Parse(result.StandardOutput).RootElement.GetProperty("listeners")[0].GetProperty("toa").GetString();
            if (running == toa)
                return;
            Assert.True(DateTime.UtcNow < deadline, $"the listener still runs with toa {running}");
            await Task.Delay(100);
        }
    }
}
