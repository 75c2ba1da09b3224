// SPDX-License-Identifier: MIT
using System.Text;
using Toa.Cli.Receiver;
using Toa.Lab;
using Toa.Testing;

namespace Toa.Cli.Tests.Boot;

/// <summary>
/// <c>toa enable</c> and <c>disable</c> run as the built toa, writing into a unit directory of the
/// test's own (never the system's); <c>systemd-analyze verify</c> is the oracle for the unit.
/// </summary>
public sealed class EnableCommandTests : IDisposable
{
    private static readonly string[] LoadArguments =
    [
        "--cgroup", "system.slice/web 100% $HOME", "--formats", "tencent,ucloud", "--trust", "10.0.0.0/8",
        "--trust", "2001:db8::/32", "--nat64-peer", "snat", "--pin-dir", "/sys/fs/bpf/toa-enable-test",
    ];

    private readonly string _units = Path.Combine(Path.GetTempPath(), $"toa-units-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_units))
            Directory.Delete(_units, recursive: true);
    }

    private static ProcessResult Toa(params string[] args)
    {
        var command = ToaCli.Command(args);
        return Shell.TryRun(command[0], [.. command.Skip(1)]);
    }

    private string Unit => Path.Join(_units, "toa-receiver.service");

    private string Line(string key) => File.ReadLines(Unit).Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];

    [Fact]
    public void Enable_WithOptions_UnitPassesSystemdAnalyzeVerify()
    {
        var enabled = Toa(["enable", "--unit-dir", _units, .. LoadArguments]);

        Assert.True(enabled.ExitCode == 0, enabled.StandardError);
        var verify = SystemdAnalyzeVerify(Unit);
        Assert.True(verify.ExitCode == 0, $"systemd-analyze verify: {verify.StandardError}{verify.StandardOutput}");
        Assert.Equal("oneshot", Line("Type"));
        Assert.Equal("yes", Line("RemainAfterExit"));
        Assert.Equal("multi-user.target", Line("WantedBy"));
    }

    [Fact]
    public void Enable_WithOptions_ExecStartLoadsWithTheSameOptions()
    {
        Toa(["enable", "--unit-dir", _units, .. LoadArguments]);

        var start = SplitExecLine(Line("ExecStart"));
        var load = start.SkipWhile(a => a != "load").ToArray();
        Assert.True(File.Exists(start[0]), $"{start[0]} does not exist");
        var written = ParseLoad(load[1..]);
        var given = ParseLoad(LoadArguments);
        Assert.Equal(
            (given.Cgroup, given.Formats, string.Join(' ', given.Trust), given.Nat64Peer, given.PinDirectory),
            (written.Cgroup, written.Formats, string.Join(' ', written.Trust), written.Nat64Peer, written.PinDirectory));
        Assert.Equal("system.slice/web 100% $HOME", written.Cgroup);
        Assert.Contains("--force", load);
        Assert.Equal(["unload", "--pin-dir", "/sys/fs/bpf/toa-enable-test"], SplitExecLine(Line("ExecStop")).SkipWhile(a => a != "unload"));
    }

    [Fact]
    public void Enable_Defaults_NoPinDirAndDefaultFormatsSpelledOut()
    {
        Toa("enable", "--unit-dir", _units);

        var load = SplitExecLine(Line("ExecStart")).SkipWhile(a => a != "load").ToArray();
        Assert.Equal(["load", "--force", "--formats", "200/8,253/20,254/8,254/20", "--nat64-peer", "real", "--netns", "/proc/self/ns/net"], load);
        Assert.Equal("unload", SplitExecLine(Line("ExecStop"))[^1]);
    }

    [Fact]
    public void Enable_LinksTheUnitFromMultiUserTarget_AndDisableRemovesBoth()
    {
        Toa("enable", "--unit-dir", _units);
        var link = new FileInfo(Path.Join(_units, "multi-user.target.wants", "toa-receiver.service"));
        Assert.Equal(Unit, link.LinkTarget);

        var disabled = Toa("disable", "--unit-dir", _units);
        var again = Toa("disable", "--unit-dir", _units);

        Assert.Equal(0, disabled.ExitCode);
        Assert.False(File.Exists(Unit));
        Assert.False(new FileInfo(link.FullName) is { Exists: true } or { LinkTarget: not null });
        Assert.Equal(1, again.ExitCode);
        Assert.StartsWith("toa: no toa-receiver.service in ", again.StandardError);
    }

    [Theory]
    [InlineData("--formats", "akamai")]
    [InlineData("--toa-path", "/nonexistent/toa")]
    public void Enable_BadInput_ExitsTwoAndWritesNothing(string option, string value)
    {
        var result = Toa("enable", "--unit-dir", _units, option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(value, result.StandardError.Split('\n')[0]);
        Assert.False(File.Exists(Unit));
    }

    private static ReceiverOptionsView ParseLoad(string[] arguments)
    {
        var parse = RootCommandFactory.Create().Parse(["load", .. arguments]);
        Assert.Empty(parse.Errors);
        var options = ReceiverLoadOptions.From(parse);
        return new(options.Cgroup, options.Formats, options.Trust, options.Nat64Peer, options.PinDirectory);
    }

    private sealed record ReceiverOptionsView(string? Cgroup, Toa.Wire.ToaLayouts Formats, IReadOnlyList<System.Net.IPNetwork> Trust,
        Toa.Receiver.Nat64PeerMode Nat64Peer, string PinDirectory);

    private static ProcessResult SystemdAnalyzeVerify(string unit) =>
        Shell.TryRun(ToolTest.Require("/usr/bin/systemd-analyze", "systemd"), "verify", unit);

    /// <summary>An Exec line split as systemd.service(5) says: words, double quotes with C escapes, %% and $$ for % and $.</summary>
    private static string[] SplitExecLine(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var (quoted, inWord) = (false, false);
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted && c == '\\')
                word.Append(line[++i]);
            else if (c == '"')
                (quoted, inWord) = (!quoted, true);
            else if (!quoted && c == ' ')
            {
                if (inWord)
                    words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else if (c is '%' or '$' && i + 1 < line.Length && line[i + 1] == c)
                (word, inWord, i) = (word.Append(c), true, i + 1);
            else
                (word, inWord) = (word.Append(c), true);
        }
        if (inWord)
            words.Add(word.ToString());
        return [.. words];
    }
}
