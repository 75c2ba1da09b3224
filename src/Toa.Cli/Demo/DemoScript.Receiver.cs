// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Bpf;
using Toa.Lab;
using Toa.Receiver;

namespace Toa.Cli.Demo;

/// <summary>The demo's receiver step: toa load in the server host, and a C server asking for its clients.</summary>
internal sealed partial class DemoScript
{
    private const int ReceiverPort = 8001;

    // The sample server and the header it shares with the eBPF programs, as the repository lays them out.
    private static readonly string[] SampleSources = ["samples/c/toa_server.c", "bpf/receiver.h", "bpf/toa.h"];

    private async Task ShowReceiverAsync(Host client, Host server, Link link, CancellationToken cancel)
    {
        var name = $"toa-demo-{Environment.ProcessId}";
        var pins = Path.Combine(BpfFs.DefaultMount, name);
        var cgroup = Cgroup.RootGroup.CreateChild(name);
        var build = Directory.CreateTempSubdirectory("toa-demo-");
        try
        {
            Say("The receiver: toa load attaches eBPF programs (here to a cgroup of the demo's own, not the whole machine):");
            ToaReceiver.Load(new ReceiverOptions { Cgroup = cgroup.Path, PinDirectory = pins }, force: false);
            output.WriteLine($"  server# toa load --cgroup {cgroup.RelativePath}   (TOA: load success)");

            Say("A C server written like the load balancer's sample (getsockopt 4096 first, else getpeername), dual-stack:");
            var binary = BuildSample(build.FullName);
            await using var cServer = server.Start(binary, ["-6", "-n", "2", $"{ReceiverPort}"], cgroup.Path);
            await cServer.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(20));

            await ConnectAsync(client, $"{link.B.Ipv4}:{ReceiverPort}", "203.0.113.7:4321", "An IPv4 client in kind 200, through SNAT", cancel);
            await ConnectAsync(client, $"[{link.B.Ipv6}]:{ReceiverPort}", "[2001:db8::7]:2222", "An IPv6 client in kind 253 (NAT64)", cancel);
            await cServer.WaitForLineAsync(_ => cServer.Output.Count(l => l == "closed") == 2, TimeSpan.FromSeconds(20));

            Say($"What the C server printed (the true peers were {link.A.Ipv4} and {link.A.Ipv6}):");
            foreach (var line in cServer.Output.Where(l => l.StartsWith("accepted", StringComparison.Ordinal) || l.StartsWith("real client", StringComparison.Ordinal)))
                output.WriteLine($"  {line}");

            var counters = ToaReceiver.ReadCounters(pins);
            Say("toa stats (toa.ko's counters, summed over CPUs):");
            foreach (var counter in counters.Counters.Take(ReceiverCounters.ModuleCounters))
                output.WriteLine($"  {counter.Name,-25}{counter.Total,6}");
        }
        finally
        {
            ToaReceiver.Unload(pins);
            output.WriteLine("  server# toa unload   (TOA unloaded)");
            build.Delete(recursive: true);
            RemoveWhenEmpty(cgroup);
        }
    }

    private static string BuildSample(string directory)
    {
        foreach (var source in SampleSources)
        {
            var path = Path.Combine(directory, source);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var resource = typeof(DemoScript).Assembly.GetManifestResourceStream(source)
                ?? throw new InvalidOperationException($"demo: {source} is not embedded in toa");
            using var file = File.Create(path);
            resource.CopyTo(file);
        }
        var binary = Path.Combine(directory, "toa_server");
        Shell.Run("gcc", "-O2", "-o", binary, Path.Combine(directory, SampleSources[0]));
        return binary;
    }

    // The server's process leaves the cgroup a moment after it is killed.
    private static void RemoveWhenEmpty(Cgroup cgroup)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                cgroup.Remove();
                return;
            }
            catch (IOException)
            {
                Thread.Sleep(20);
            }
        }
    }
}
