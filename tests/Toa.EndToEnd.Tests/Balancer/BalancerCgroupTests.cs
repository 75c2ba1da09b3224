// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Bpf;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// <c>toa lb</c> started as systemd starts a service, in a unit's cgroup below a slice: the TOA
/// writer's cgroup must stay below the unit's, so the unit's limits (MemoryMax=, TasksMax=, IP
/// filters) still apply, and go away with the balancer.
/// </summary>
public sealed class BalancerCgroupTests
{
    private const int CServerPort = 8000;
    private const int Port = 80;

    [Fact]
    public async Task Start_InAServiceCgroupBelowASlice_TheWriterCgroupIsBelowTheServiceAndRemovedAtExit()
    {
        KernelTest.Require();
        var slice = Cgroup.RootGroup.CreateChild($"toa-test-{Environment.ProcessId}-{Guid.NewGuid():N}.slice");
        try
        {
            // Disposed before the slice is removed: it stops the balancer, also after a failure.
            await using var lab = new BalancerLab();
            var service = slice.CreateChild("lb.service");
            var server = await lab.StartCServerAsync(CServerPort);
            var balancer = await lab.StartBalancerAsync($$"""
                { "shutdownTimeout": "2s",
                  "listeners": [ { "name": "web", "address": "{{lab.Hosts.BalancerFor4}}:{{Port}}", "toa": "tencent",
                                   "backends": [ { "address": "{{lab.Hosts.ServerAddress}}:{{CServerPort}}" } ] } ] }
                """, listeners: 1, cgroup: service.Path);

            var client = await BalancerLab.EchoLineAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, Port));
            await server.WaitForLineAsync(l => l == $"accepted v4 [{client.Address}]:{client.Port}", TimeSpan.FromSeconds(30));
            var running = Cgroup.OfProcess(balancer.Id);
            var children = service.Children().Select(c => c.Path).ToArray();
            await balancer.InterruptAsync(TimeSpan.FromSeconds(30));

            Assert.Equal(Path.Join(service.Path, $"toa-sender-{balancer.Id}"), running.Path);
            Assert.True(service.Contains(running));
            Assert.Equal([running.Path], children);
            Assert.Empty(service.Children());
            Assert.Empty(service.Processes());
        }
        finally
        {
            foreach (var leftover in slice.Children().SelectMany(c => c.Children().Append(c)).ToArray())
                CgroupCleanup.RemoveWhenEmpty(leftover);
            CgroupCleanup.RemoveWhenEmpty(slice);
        }
    }
}
