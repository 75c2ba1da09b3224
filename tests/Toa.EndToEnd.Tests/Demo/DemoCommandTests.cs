// SPDX-License-Identifier: MIT
using System.Text.RegularExpressions;
using Toa.Bpf;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Demo;

/// <summary><c>toa demo</c> as a user runs it: what it shows must be what happened, and it leaves nothing behind.</summary>
public sealed partial class DemoCommandTests
{
    [Fact]
    public async Task Demo_BothClientsThroughTheBalancer_ServersShowTheRealClientsAndNothingIsLeft()
    {
        KernelTest.Require();
        var command = ToaCli.Command("demo");

        var result = await Task.Run(() => Shell.TryRun(command[0], [.. command.Skip(1)]));

        Assert.True(result.ExitCode == 0, $"toa demo exited {result.ExitCode}:\n{result.StandardOutput}\n{result.StandardError}");
        var lines = result.StandardOutput.Split('\n').Select(l => l.Trim()).ToArray();
        var client4 = Field(lines, "client4");
        var client6 = Field(lines, "client6");
        Assert.Contains(lines, l => l.StartsWith($"accepted v4 [{client4}]:", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"real client v4 [{client4}]:", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"real client v6 [{client6}]:", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"decoded: kind 200, length 8 (tencent): client {client4}:", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"decoded: kind 253, length 20 (tencent): client [{client6}]:", StringComparison.Ordinal));
        // WhoAmI's answer names the address and port curl connected from.
        var answers = WhoAmIAnswer().Matches(result.StandardOutput).Select(m => (m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, m.Groups[4].Value)).ToArray();
        Assert.Equal([client4, client6], answers.Select(a => a.Item1));
        Assert.All(answers, a => Assert.Equal((a.Item1, a.Item2), (a.Item3, a.Item4)));

        var demo = CgroupName().Match(result.StandardOutput).Groups[1].Value;
        Assert.DoesNotContain(Shell.Run("ip", "netns", "list").Split('\n'), n => n.StartsWith($"{demo}-", StringComparison.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(BpfFs.DefaultMount, demo)));
        Assert.DoesNotContain(Cgroup.RootGroup.Children(), c => Path.GetFileName(c.Path) == demo);
    }

    /// <summary>The address the demo lists for a host: "  client4  10.200.1.1   (...)".</summary>
    private static string Field(string[] lines, string host) =>
        lines.First(l => l.StartsWith(host + " ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];

    [GeneratedRegex(@"\{""address"":""([^""]+)"",""port"":(\d+),[^\n]*\n\s*\(curl's own end of the connection: (\S+) (\d+)\)")]
    private static partial Regex WhoAmIAnswer();

    [GeneratedRegex(@"toa load --cgroup /(toa-demo-\d+)")]
    private static partial Regex CgroupName();
}
