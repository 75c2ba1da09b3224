// SPDX-License-Identifier: MIT
using System.Diagnostics;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Reliability;

/// <summary>
/// bench/stress/run.sh scaled down: forged connections from untrusted peers, short connections
/// (half NAT64, also through toa lb) with nothing left behind, connections held and listed by
/// toa table, live connections across toa load --force and unload/load, a SYN flood while real
/// clients connect. The script checks each property itself ("PASS"/"FAIL" lines, exit 1 on a
/// failure) and removes its namespaces, cgroups and pins, also when stopped.
/// </summary>
// One at a time: the stress run loads the machine enough to delay the corpus's exchanges past their waits.
[Collection("Reliability")]
public sealed class StressTests
{
    // LEAK: the slab check reads the whole machine's kmalloc caches, which tests running beside
    // this one move too; 15,000 connections keep their noise well under the 64 B per connection checked.
    private static readonly Dictionary<string, string> s_sizes = new()
    {
        ["SPOOF"] = "300", ["LEAK"] = "15000", ["LB"] = "1000", ["SCALE"] = "2000", ["UPGRADE"] = "600",
        ["FLOOD"] = "20000", ["REAL"] = "400", ["TIME_WAIT"] = "0",
    };

    [Fact]
    public async Task StressRun_ScaledDown_EveryPropertyHolds()
    {
        KernelTest.Require();
        var start = new ProcessStartInfo(Path.Combine(CSamples.RepoRoot, "bench", "stress", "run.sh"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in s_sizes)
            start.Environment[name] = value;
        start.Environment["TOA"] = ToaCli.Command()[0] == "dotnet"
            ? throw new InvalidOperationException("the stress script needs toa's apphost beside the tests")
            : ToaCli.Command()[0];
        using var script = Process.Start(start)!;
        var output = script.StandardOutput.ReadToEndAsync();
        var error = script.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(10));
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
        var transcript = await output + await error;

        Assert.True(script.ExitCode == 0, transcript);
        Assert.DoesNotContain("FAIL", transcript);
        Assert.Equal(25, transcript.Split('\n').Count(l => l.StartsWith("PASS ", StringComparison.Ordinal)));
    }
}
