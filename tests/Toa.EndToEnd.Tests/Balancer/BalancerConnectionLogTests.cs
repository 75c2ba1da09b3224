// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// <c>toa lb</c> as a process across namespaces with the connection log on stdout (the journal,
/// under systemd): one line per connection, naming the real client and the backend.
/// </summary>
public sealed class BalancerConnectionLogTests
{
    private const int CServerPort = 8000;
    private const int Port = 80;

    [Fact]
    public async Task Log_ToStdout_OneLinePerConnectionWithTheClientAndTheBackend()
    {
        KernelTest.Require();
        await using var lab = new BalancerLab();
        await lab.StartCServerAsync(CServerPort);
        var backend = $"{lab.Hosts.ServerAddress}:{CServerPort}";
        var balancer = await lab.StartBalancerAsync($$"""
            { "shutdownTimeout": "2s", "log": { "to": "stdout" },
              "listeners": [ { "name": "web", "address": "{{lab.Hosts.BalancerFor4}}:{{Port}}", "toa": "tencent",
                               "backends": [ { "address": "{{backend}}" } ] } ] }
            """, listeners: 1);
        var target = new IPEndPoint(lab.Hosts.BalancerFor4, Port);

        var first = await BalancerLab.EchoLineAsync(lab.Hosts.Client4, target);
        var second = await BalancerLab.EchoLineAsync(lab.Hosts.Client4, target);
        await balancer.WaitForLineAsync(_ => balancer.Output.Count >= 2, TimeSpan.FromSeconds(30));

        string Expected(IPEndPoint client) =>
            $" listener=web listen={target} client={client} backend={backend} up=6 down=6 ";
        Assert.Equal(2, balancer.Output.Count);
        Assert.Contains(Expected(first), balancer.Output[0], StringComparison.Ordinal);
        Assert.Contains(Expected(second), balancer.Output[1], StringComparison.Ordinal);
        Assert.All(balancer.Output, l => Assert.EndsWith(" connect_failures=0 end=client_closed", l, StringComparison.Ordinal));
    }
}
