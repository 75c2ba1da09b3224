// SPDX-License-Identifier: MIT
using Toa.EndToEnd.Tests.Receiver;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Package;

/// <summary>
/// The Debian package (scripts/package) installed into a fresh Debian 12 root and used from there:
/// its units pass systemd-analyze verify, its toa runs with no .NET and an empty environment, the
/// receiver unit's lines load and unload with /etc/toa/receiver.conf's settings while the C sample
/// sees the client, an upgrade unloads it first and keeps the settings, and dpkg --purge leaves
/// nothing behind. The receiver is the lab's: a cgroup and pin directory of the test's own, named
/// in receiver.conf.
/// </summary>
public sealed class PackageTests : IDisposable
{
    private const int Port = 8000;
    private static readonly string[] Units = ["toa-receiver.service", "toa-lb.service", "toa-metrics.service"];
    private readonly DebianRoot _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public void Install_IntoAFreshRoot_UnitsPassSystemdAnalyzeVerify()
    {
        _root.Sh($"dpkg -i {DebianRoot.Package}");

        // --man=no: the host's man would look for Documentation='s pages on the host; they are checked in the root below.
        var verify = Shell.TryRun(ToolTest.Require("/usr/bin/systemd-analyze", "systemd"),
            ["verify", $"--root={_root.Path}", "--man=no", .. Units.Select(u => $"/lib/systemd/system/{u}")]);

        Assert.True(verify.ExitCode == 0, $"systemd-analyze verify: {verify.StandardError}{verify.StandardOutput}");
        foreach (var unit in Units)
        {
            var page = File.ReadLines(_root.Join($"/lib/systemd/system/{unit}")).Single(l => l.StartsWith("Documentation=man:", StringComparison.Ordinal));
            var (name, section) = (page["Documentation=man:".Length..page.IndexOf('(')], page[(page.IndexOf('(') + 1)..^1]);
            Assert.True(File.Exists(_root.Join($"/usr/share/man/man{section}/{name}.{section}.gz")), $"{unit}: no manual page {name}({section})");
        }
        Assert.Equal("toa", _root.Sh("id -un toa").Trim());
        Assert.Equal(0, _root.Run("toa", "lb", "check", "--config", "/etc/toa/lb.json").ExitCode);
    }

    [Fact]
    public void InstalledToa_WithoutDotnet_RunsAndNeedsOnlyLibbpfAndLibc()
    {
        _root.Sh($"dpkg -i {DebianRoot.Package}");

        var help = _root.Run("toa", "--help");
        var needed = Shell.Run("readelf", "-d", _root.Join("/usr/bin/toa")).Split('\n')
            .Where(l => l.Contains("(NEEDED)", StringComparison.Ordinal)).Select(l => l[(l.IndexOf('[') + 1)..l.IndexOf(']')]);
        var ldd = _root.Sh("ldd /usr/bin/toa");

        Assert.True(help.ExitCode == 0, help.StandardError);
        Assert.Contains("load", help.StandardOutput);
        Assert.False(File.Exists(_root.Join("/usr/bin/dotnet")));
        Assert.Empty(needed.Except(["libbpf.so.1", "libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"]));
        Assert.Contains("libbpf.so.1", needed);
        Assert.DoesNotContain("not found", ldd);
        Assert.Matches(@"^Depends: libbpf1 \(>= [^)]+\), libc6 \(>= [^)]+\)", _root.Sh("dpkg-query -s toa | grep ^Depends:"));
    }

    [Fact]
    public void ManPagesAndCompletion_Installed_SayWhatTheCommandsDo()
    {
        _root.Sh($"dpkg -i {DebianRoot.Package}");

        var page = _root.Sh("zcat /usr/share/man/man1/toa-load.1.gz");
        var suggested = _root.Run("bash", "-c", ". /usr/share/bash-completion/completions/toa; "
            + "COMP_LINE='toa lo'; COMP_POINT=6; COMP_WORDS=(toa lo); COMP_CWORD=1; _toa; printf '%s\\n' \"${COMPREPLY[@]}\"").StandardOutput;

        Assert.Contains(".SH NAME", page);
        Assert.Contains("\\-\\-trust", page);
        Assert.Equal(["load", "log"], suggested.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
    }

    [Fact]
    public async Task ReceiverUnit_StartWithReceiverConf_CServerSeesTheClient_StopUnloads()
    {
        using var lab = new ReceiverLab(load: false);
        _root.Sh($"dpkg -i {DebianRoot.Package}");
        Configure(lab);

        var start = _root.RunUnitLine("toa-receiver.service", "ExecStart", "/etc/toa/receiver.conf");
        var status = _root.Run("toa", "status", "--pin-dir", lab.PinDirectory);
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");
        var connect = await lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321");
        await server.WaitForLineAsync(l => l == "closed", TimeSpan.FromSeconds(30));
        var stop = _root.RunUnitLine("toa-receiver.service", "ExecStop", "/etc/toa/receiver.conf");
        var after = _root.Run("toa", "status", "--pin-dir", lab.PinDirectory);

        Assert.True(start.ExitCode == 0, start.StandardError);
        Assert.Contains($"  attached to:  {lab.Cgroup.Path}", status.StandardOutput.Split('\n'));
        Assert.Contains($"  trust:        {lab.Link.A.Ipv4}/32 {lab.Link.A.Ipv6}/128", status.StandardOutput.Split('\n'));
        Assert.Equal(0, connect.ExitCode);
        Assert.Contains("accepted v4 [203.0.113.7]:4321", server.Output);
        Assert.True(stop.ExitCode == 0, stop.StandardError);
        Assert.Equal(3, after.ExitCode);
        Assert.False(Directory.Exists(lab.PinDirectory));
    }

    [Fact]
    public void Upgrade_WhileTheReceiverIsLoaded_UnloadsBeforeTheFilesChangeAndKeepsTheSettings()
    {
        using var lab = new ReceiverLab(load: false);
        _root.Sh($"dpkg -i {DebianRoot.Package}");
        Configure(lab);
        var start = _root.RunUnitLine("toa-receiver.service", "ExecStart", "/etc/toa/receiver.conf");
        Assert.True(start.ExitCode == 0, start.StandardError);

        // The same version again runs the upgrade's scripts (prerm upgrade, postinst configure).
        _root.Sh($"dpkg -i {DebianRoot.Package}");

        Assert.False(Directory.Exists(lab.PinDirectory), $"{lab.PinDirectory} is still pinned");
        Assert.Contains($"TOA_PIN_DIR=\"--pin-dir {lab.PinDirectory}\"", File.ReadAllText(_root.Join("/etc/toa/receiver.conf")));
        var again = _root.RunUnitLine("toa-receiver.service", "ExecStart", "/etc/toa/receiver.conf");
        Assert.True(again.ExitCode == 0, again.StandardError);
        Assert.True(_root.RunUnitLine("toa-receiver.service", "ExecStop", "/etc/toa/receiver.conf").ExitCode == 0);
    }

    [Fact]
    public void Purge_WhileTheReceiverIsLoaded_UnloadsAndLeavesNothingBehind()
    {
        using var lab = new ReceiverLab(load: false);
        const string Files = "find /etc /lib/systemd /usr/bin /usr/share /run /var/lib/systemd 2>/dev/null | sort";
        var before = _root.Sh(Files);
        _root.Sh($"dpkg -i {DebianRoot.Package}");
        Configure(lab);
        var start = _root.RunUnitLine("toa-receiver.service", "ExecStart", "/etc/toa/receiver.conf");
        Assert.True(start.ExitCode == 0, start.StandardError);
        // What an administrator's systemctl enable leaves, for the purge to remove.
        _root.Sh("mkdir -p /etc/systemd/system/multi-user.target.wants && "
            + "ln -s /lib/systemd/system/toa-receiver.service /etc/systemd/system/multi-user.target.wants/");

        _root.Sh("dpkg --purge toa");

        Assert.False(Directory.Exists(lab.PinDirectory), $"{lab.PinDirectory} is still pinned");
        Assert.Equal("", Shell.Run("bpftool", "cgroup", "show", lab.Cgroup.Path).Trim());
        var after = _root.Sh(Files).Split('\n');
        // useradd's backups of the user databases (/etc/passwd- ...): the toa user stays, as Debian's system users do.
        Assert.Equal([], after.Except(before.Split('\n')).Where(f => !(f.StartsWith("/etc/", StringComparison.Ordinal) && f.EndsWith('-'))));
        Assert.Equal([], before.Split('\n').Except(after));
        Assert.NotEqual(0, _root.Run("dpkg-query", "-W", "toa").ExitCode);
    }

    // receiver.conf as an administrator edits it: the lab's client trusted, its cgroup, pins and namespaces.
    private void Configure(ReceiverLab lab)
    {
        var path = _root.Join("/etc/toa/receiver.conf");
        var settings = File.ReadAllText(path);
        foreach (var (name, value) in new[]
        {
            ("TOA_TRUST", $"--trust {lab.Link.A.Ipv4}/32 --trust {lab.Link.A.Ipv6}/128"),
            ("TOA_CGROUP", $"--cgroup {lab.Cgroup.Path}"),
            ("TOA_OPTIONS", "--netns all"),
            ("TOA_PIN_DIR", $"--pin-dir {lab.PinDirectory}"),
        })
        {
            Assert.Contains($"\n{name}=\"\"\n", settings);
            settings = settings.Replace($"\n{name}=\"\"\n", $"\n{name}=\"{value}\"\n", StringComparison.Ordinal);
        }
        File.WriteAllText(path, settings);
    }
}
