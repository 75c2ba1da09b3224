// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Globalization;
using Toa.Bpf;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// bench/lb/netns.sh scaled down (one round of one second, a few connections in flight) so it keeps
/// working: every target yields figures and the run leaves no namespace or process behind. Its
/// figures are not judged here: timing belongs to the bench run by hand.
/// </summary>
// Beside the stress run: it loads the machine while it measures, which delays other tests' waits.
[Collection("Reliability")]
public sealed class BenchLbTests
{
    private static readonly string[] s_targets = ["routed", "haproxy", "toa-lb", "packet"];

    [Fact]
    public async Task NetnsMode_OneShortRound_FiguresForEveryTargetAndNothingLeft()
    {
        KernelTest.Require();
        ToolTest.Require("/usr/sbin/haproxy", "haproxy");
        var tag = $"toa-blt-{Environment.ProcessId}-{Random.Shared.Next(1000):D3}";
        var start = new ProcessStartInfo(Path.Combine(CSamples.RepoRoot, "bench", "lb", "netns.sh"), ["1", "1"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["TAG"] = tag;
        start.Environment["CONCURRENCY"] = "4";
        start.Environment["PROCESSES"] = "2";
        start.Environment["TOA"] = ToaCli.Command()[0] == "dotnet"
            ? throw new InvalidOperationException("the bench script needs toa's apphost beside the tests")
            : ToaCli.Command()[0];
        string transcript;
        int exitCode;
        try
        {
            using var script = Process.Start(start)!;
            var output = script.StandardOutput.ReadToEndAsync();
            var error = script.StandardError.ReadToEndAsync();
            using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            try
            {
                await script.WaitForExitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                // SIGTERM: the script's trap removes what it made.
                Process.Start("kill", ["-TERM", $"{script.Id}"])!.WaitForExit();
                await script.WaitForExitAsync();
            }
            transcript = await output + await error;
            exitCode = script.ExitCode;
        }
        finally
        {
            // Whatever the script left is removed here too, so a failure leaves nothing for others.
            foreach (var left in Namespaces(tag))
            {
                // The packet engine's pins are named by its namespace's inode, gone with the namespace.
                var inode = Shell.TryRun("stat", "-L", "-c", "%i", $"/var/run/netns/{left}").StandardOutput.Trim();
                if (inode.Length > 0 && Directory.Exists($"/sys/fs/bpf/toa/fullnat/{inode}"))
                {
                    Directory.Delete($"/sys/fs/bpf/toa/fullnat/{inode}", recursive: true);
                    BpfFs.DeleteEmptyDirectories("/sys/fs/bpf/toa/fullnat");
                }
                Shell.TryRun("ip", "netns", "del", left);
            }
        }

        Assert.True(exitCode == 0, transcript);
        Assert.Contains("load at start:", transcript);
        Assert.Contains("load at end:", transcript);
        foreach (var target in s_targets)
        {
            // The summary's row: target, conn/s, p99 ms, Gbit/s, cpu us/conn, failed.
            var row = transcript.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .SingleOrDefault(f => f.Length == 6 && f[0] == target);
            Assert.True(row is not null, $"no summary row for {target}:\n{transcript}");
            Assert.True(double.Parse(row[1], CultureInfo.InvariantCulture) > 0, $"{target} made no connection:\n{transcript}");
            Assert.True(double.Parse(row[2], CultureInfo.InvariantCulture) > 0, $"{target} has no p99:\n{transcript}");
            Assert.True(double.Parse(row[3], CultureInfo.InvariantCulture) > 0, $"{target} moved no bulk:\n{transcript}");
        }
        Assert.Contains(transcript.Split('\n'), l => l.StartsWith("toa-lb / haproxy ", StringComparison.Ordinal));
        Assert.Contains(transcript.Split('\n'), l => l.StartsWith("packet / routed ", StringComparison.Ordinal));
        // The packet engine's CPU per connection is a figure (its tc program's run time, not "-").
        var packet = transcript.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Single(f => f.Length == 6 && f[0] == "packet");
        Assert.True(double.TryParse(packet[4], CultureInfo.InvariantCulture, out _), $"no CPU per connection for the packet engine:\n{transcript}");
        Assert.Empty(Namespaces(tag));
        Assert.Empty(ProcessesOf(tag));
    }

    private static string[] Namespaces(string tag) =>
        [.. Shell.Run("ip", "netns", "list").Split('\n')
            .Select(l => l.Split(' ')[0]).Where(n => n.StartsWith(tag + "-", StringComparison.Ordinal))];

    /// <summary>Processes whose command line names the run's tag (its programs run from a folder named by it).</summary>
    private static int[] ProcessesOf(string tag) =>
        [.. Directory.EnumerateDirectories("/proc").Select(Path.GetFileName)
            .Where(d => d!.All(char.IsAsciiDigit))
            .Where(d =>
            {
                try { return File.ReadAllText($"/proc/{d}/cmdline").Contains(tag, StringComparison.Ordinal); }
                catch (IOException) { return false; }
                catch (UnauthorizedAccessException) { return false; }
            })
            .Select(d => int.Parse(d!, CultureInfo.InvariantCulture))];
}
