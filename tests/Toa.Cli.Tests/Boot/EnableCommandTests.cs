// SPDX-License-Identifier: MIT
using System.Text;
using Toa.Cli.Receiver;
using Toa.Lab;
using Toa.Testing;

namespace Toa.Cli.Tests.Boot;

/// <summary>
/// <c>toa enable</c> and <c>disable</c> run as the built toa, writing into a unit directory of the
/// test's own (never the system's); <c>systemd-analyze verify</c> is the oracle for the unit.
/// They need root: the unit runs its executable as root at boot, so enable accepts only one that
/// root alone can change, and the tests make files owned by others.
/// </summary>
public sealed class EnableCommandTests : IDisposable
{
    private static readonly string[] LoadArguments =
    [
        "--cgroup", "system.slice/web 100% $HOME", "--formats", "tencent,ucloud", "--trust", "10.0.0.0/8",
        "--trust", "2001:db8::/32", "--nat64-peer", "snat", "--pin-dir", "/sys/fs/bpf/toa-enable-test",
    ];

    private readonly string _units = Path.Combine(Path.GetTempPath(), $"toa-units-{Guid.NewGuid():N}");

    // Executables, runtimes and their directories the tests make.
    private readonly string _files = Path.Combine(Path.GetTempPath(), $"toa-files-{Guid.NewGuid():N}");

    public void Dispose()
    {
        foreach (var directory in new[] { _units, _files }.Where(Directory.Exists))
            Directory.Delete(directory, recursive: true);
    }

    private static ProcessResult Toa(params string[] args)
    {
        KernelTest.Require("root");
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
        Assert.StartsWith("fail: toa[2] no toa-receiver.service in ", again.StandardError);
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

    [Theory]
    [InlineData("file", "664")]
    [InlineData("directory", "777")]
    [InlineData("ancestor", "owner 1000")]
    public void Enable_ExecutableOthersCouldChange_RefusedNamingThePathAndTheFix(string which, string how)
    {
        var toa = FakeToa("bin");
        var culprit = which switch
        {
            "file" => toa,
            "directory" => Path.GetDirectoryName(toa)!,
            _ => _files,
        };
        if (how.StartsWith("owner ", StringComparison.Ordinal))
            Shell.Run("chown", how["owner ".Length..], culprit);
        else
            Shell.Run("chmod", how, culprit);

        var result = Toa("enable", "--unit-dir", _units, "--toa-path", toa);

        Assert.Equal(1, result.ExitCode);
        var line = result.StandardError.Split('\n')[0];
        Assert.StartsWith($"fail: toa[2] {culprit} ", line);
        Assert.Contains("--toa-path", line);
        Assert.False(File.Exists(Unit));
    }

    [Fact]
    public void Enable_RuntimeOthersCouldChange_Refused()
    {
        // A runtime of its own (hard links to this one's files) in a directory uid 1000 owns.
        var runtime = Path.GetFullPath(Path.Join(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "../../.."));
        var copy = Path.Join(_files, "dotnet");
        Directory.CreateDirectory(copy);
        Shell.Run("cp", "-al", Path.Join(runtime, "host"), Path.Join(runtime, "shared"), copy);
        Shell.Run("chown", "1000", copy);
        var apphost = ToaCli.Command()[0];

        // dotnet test sets the architecture's own variable, which wins over DOTNET_ROOT.
        var architecture = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToUpperInvariant();
        var result = Shell.TryRun("env", $"DOTNET_ROOT={copy}", $"DOTNET_ROOT_{architecture}={copy}", apphost, "enable", "--unit-dir", _units);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"fail: toa[2] {copy} is owned by uid 1000", result.StandardError);
        Assert.False(File.Exists(Unit));
    }

    [Theory]
    [InlineData("two words")]
    [InlineData("quote\"d and 'single'")]
    [InlineData("100%n %% %")]
    [InlineData("$HOME ${PATH} $$")]
    [InlineData("semi;colon ; \\;")]
    [InlineData("back\\slash\\")]
    public void Enable_HostileCharacters_EachStaysOneWordAndAddsNoDirective(string hostile)
    {
        // systemd runs no executable whose path holds a backslash or quote (refused below).
        var toa = FakeToa(hostile.Any(c => c is '\\' or '"' or '\'') ? "plain" : hostile);
        var (cgroup, pins) = ($"system.slice/{hostile}", $"/sys/fs/bpf/{hostile}");

        var enabled = Toa("enable", "--unit-dir", _units, "--toa-path", toa, "--cgroup", cgroup, "--pin-dir", pins);

        Assert.True(enabled.ExitCode == 0, enabled.StandardError);
        var verify = SystemdAnalyzeVerify(Unit);
        Assert.True(verify.ExitCode == 0, $"systemd-analyze verify: {verify.StandardError}{verify.StandardOutput}");
        Assert.Equal(["Description", "Before", "Type", "RemainAfterExit", "Environment", "ExecStart", "ExecStop", "WantedBy"],
            File.ReadLines(Unit).Where(l => l.Contains('=') && !l.StartsWith('#')).Select(l => l[..l.IndexOf('=')]));
        Assert.Equal([toa, "load", "--force", "--cgroup", cgroup, "--formats", "200/8,253/20,254/8,254/20", "--nat64-peer", "real",
            "--netns", "/proc/self/ns/net", "--pin-dir", pins], SplitExecLine(Line("ExecStart")));
        Assert.Equal([toa, "unload", "--pin-dir", pins], SplitExecLine(Line("ExecStop")));
    }

    [Theory]
    [InlineData("--cgroup", "web\nExecStartPre=/bin/touch /tmp/toa-injected")]
    [InlineData("--pin-dir", "/sys/fs/bpf/toa\r")]
    [InlineData("--toa-path", "line\nbreak")]
    [InlineData("--toa-path", "quote\"d")]
    [InlineData("--toa-path", "back\\slash")]
    public void Enable_WordAUnitCannotCarry_RefusedWithNothingWritten(string option, string value)
    {
        if (option == "--toa-path")
            value = FakeToa(value);

        var result = Toa("enable", "--unit-dir", _units, option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("unit file", result.StandardError.Split('\n')[0]);
        Assert.False(File.Exists(Unit));
    }

    [Fact]
    public void Enable_UnderUmaskZero_UnitAndItsDirectoriesOnlyRootCanWrite()
    {
        KernelTest.Require("root");
        var command = ToaCli.Command("enable", "--unit-dir", _units);

        var result = Shell.TryRun("sh", ["-c", "umask 0; exec \"$@\"", "sh", .. command]);

        Assert.True(result.ExitCode == 0, result.StandardError);
        Assert.Equal("644 755 755", Shell.Run("stat", "-c", "%a", Unit, _units, Path.Join(_units, "multi-user.target.wants")).ReplaceLineEndings(" ").Trim());
    }

    /// <summary>An executable file root alone can change, at <c>_files/DIRECTORY/toa</c>.</summary>
    private string FakeToa(string directory)
    {
        var toa = Path.Join(_files, directory, "toa");
        Directory.CreateDirectory(Path.GetDirectoryName(toa)!);
        File.WriteAllText(toa, "#!/bin/sh\n");
        Shell.Run("chmod", "755", _files, Path.GetDirectoryName(toa)!, toa);
        return toa;
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

    /// <summary>
    /// An Exec line split as systemd.service(5) says: words, double quotes with C escapes, %% for %
    /// and, in the arguments (not the executable), $$ for $.
    /// </summary>
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
            else if ((c == '%' || (c == '$' && words.Count > 0)) && i + 1 < line.Length && line[i + 1] == c)
                (word, inWord, i) = (word.Append(c), true, i + 1);
            else
                (word, inWord) = (word.Append(c), true);
        }
        if (inWord)
            words.Add(word.ToString());
        return [.. words];
    }
}
