// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Lab;
using Toa.Receiver;

namespace Toa.Cli.Demo;

/// <summary>The demo's receiver: toa load in the server host, the C server, toa stats, toa unload.</summary>
internal sealed partial class DemoScript
{
    // The sample server and the header it shares with the eBPF programs, as the repository lays them out.
    private static readonly string[] SampleSources = ["samples/c/toa_server.c", "bpf/receiver.h", "bpf/toa.h"];

    /// <summary>
    /// Loads the receiver for a cgroup of the demo's own (not the whole machine), runs <paramref name="body"/>
    /// with that cgroup and the pin directory, shows the counters, and unloads, also after a failure.
    /// </summary>
    private async Task WithReceiverAsync(Host server, Func<Cgroup, string, Task> body)
    {
        var name = $"toa-demo-{Environment.ProcessId}";
        var pins = Path.Combine(BpfFs.DefaultMount, name);
        var cgroup = Cgroup.RootGroup.CreateChild(name);
        try
        {
            Say("The receiver on the server: toa load attaches eBPF programs (here to a cgroup of the demo's own):");
            // As toa load run in the server host would: honour the server's namespace.
            ToaReceiver.Load(new ReceiverOptions { Cgroup = cgroup.Path, PinDirectory = pins, Namespaces = [server.NamespacePath] },
                force: false);
            output.WriteLine($"  server# toa load --cgroup {cgroup.RelativePath}   (TOA: load success)");
            await body(cgroup, pins);

            Say("toa stats on the server (toa.ko's counters, summed over CPUs):");
            foreach (var counter in ToaReceiver.ReadCounters(pins).Counters.Take(ReceiverCounters.ModuleCounters))
                output.WriteLine($"  {counter.Name,-25}{counter.Total,6}");
        }
        finally
        {
            ToaReceiver.Unload(pins);
            output.WriteLine("  server# toa unload   (TOA unloaded)");
            RemoveWhenEmpty(cgroup);
        }
    }

    /// <summary>
    /// The C server (written like the load balancer's sample: getsockopt 4096 first, else getpeername),
    /// built from the sources embedded in toa, listening on IPv4 <paramref name="port"/> in <paramref name="cgroup"/>.
    /// </summary>
    private static async Task<LabProcess> StartCServerAsync(Host server, Cgroup cgroup, int port, string directory)
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
        var process = server.Start(binary, [$"{port}"], cgroup.Path);
        await process.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), StepTimeout);
        return process;
    }

    // A process leaves its cgroup a moment after it exits.
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
