// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Lab;
using Toa.Receiver;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>
/// <c>toa load</c>, <c>status</c>, <c>stats</c>, <c>table</c>, <c>load --force</c> and
/// <c>unload</c> as an operator runs them, each test with a cgroup and pin directory of
/// its own; bpftool and the kernel log are the oracles. Also who may touch the pins: only
/// the receiver's own are removed, and only root may write where they live.
/// </summary>
public sealed class ReceiverCommandTests : IDisposable
{
    private const int Port = 8000;
    private readonly ReceiverLab _lab = new(load: false);
    private readonly List<string> _directories = [];

    public void Dispose()
    {
        _lab.Dispose();
        // Foreign pins, links and directories the tests made (pins are files to unlink, on bpffs too).
        foreach (var path in _directories)
        {
            if (new FileInfo(path).LinkTarget is not null)
                File.Delete(path);
            else if (Directory.Exists(path))
                Directory.Delete(path, recursive: true);
        }
    }

    private Task<ProcessResult> ToaAsync(params string[] args) => ToaIn(_lab.Server, args);

    private Task<ProcessResult> ToaIn(Host host, params string[] args) => ToaAt(host, _lab.PinDirectory, args);

    private static Task<ProcessResult> ToaAt(Host host, string pins, params string[] args) =>
        host.RunToaAsync("", [.. args, "--pin-dir", pins]);

    private Task<ProcessResult> LoadAsync(params string[] args) => ToaAsync(["load", "--cgroup", _lab.Cgroup.Path, .. args]);

    [Fact]
    public async Task Load_Fresh_SaysLoadSuccessInOutputAndKernelLog()
    {
        var result = await LoadAsync();

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("TOA: load success", result.StandardOutput);
        Assert.Contains(_lab.Cgroup.Path, result.StandardOutput);
        var log = Shell.Run("dmesg");
        Assert.Contains(log.Split('\n'), l => l.Contains("TOA: load success", StringComparison.Ordinal) && l.Contains(_lab.PinDirectory, StringComparison.Ordinal));
        Assert.Equal(4, AttachedPrograms().Length);
    }

    [Fact]
    public async Task Load_Twice_SaysAlreadyLoaded()
    {
        await LoadAsync();

        var again = await LoadAsync();

        Assert.Equal(0, again.ExitCode);
        Assert.StartsWith("TOA is already loaded", again.StandardOutput);
        Assert.Equal(4, AttachedPrograms().Length);
    }

    [Fact]
    public async Task Status_Loaded_TellsWhereFormatsTrustAndWarnsWithoutTrust()
    {
        await LoadAsync("--formats", "tencent,254/8");

        var status = await ToaAsync("status");

        Assert.Equal(0, status.ExitCode);
        var lines = status.StandardOutput.Split('\n');
        Assert.Equal("TOA receiver: loaded", lines[0]);
        Assert.Contains($"  attached to:  {_lab.Cgroup.Path}", lines);
        Assert.Contains("  formats:      200/8 253/20 254/8", lines);
        Assert.Contains("  trust:        every peer", lines);
        Assert.Contains(lines, l => l.StartsWith("warning: no trust list", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  programs:     sock_ops id ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Status_WithTrust_ListsItWithoutWarning()
    {
        await LoadAsync("--trust", "10.200.0.0/16", "--trust", "2001:db8::/32");

        var status = await ToaAsync("status");

        Assert.Contains("  trust:        10.200.0.0/16 2001:db8::/32", status.StandardOutput.Split('\n'));
        Assert.DoesNotContain("warning", status.StandardOutput);
    }

    [Fact]
    public async Task Status_NotLoaded_SaysSoWithExitCode3()
    {
        var status = await ToaAsync("status");

        Assert.Equal(3, status.ExitCode);
        Assert.StartsWith("TOA receiver: not loaded", status.StandardOutput);
    }

    [Fact]
    public async Task Stats_AfterAConnection_ModuleLayoutThenOurRows()
    {
        await LoadAsync();
        var server = await _lab.StartCServerAsync("-n", "1", $"{Port}");
        await _lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321");
        await server.WaitForLineAsync(l => l == "closed", TimeSpan.FromSeconds(30));

        var stats = await ToaAsync("stats");

        var lines = stats.StandardOutput.Split('\n');
        var cpus = ReceiverCounters.OnlineCpus();
        Assert.Equal(new string(' ', 34) + string.Concat(cpus.Select(c => $"CPU{c}       ")), lines[0]);
        Assert.Equal(["syn_recv_sock_toa", "syn_recv_sock_no_toa", "getname_toa_ok", "getname_toa_mismatch", "getname_toa_empty",
            "ip6_address_alloc", "ip6_address_free", "toa_from_syn", "toa_from_data", "toa_malformed", "toa_untrusted", "getname_toa_bypass",
            "toa_foreign_netns", "toa_parse_busy", "toa_parked_evicted", "toa_conns_full"],
            lines.Skip(1).Where(l => l.Length > 0).Select(l => l[..25].TrimEnd()));
        var toaRow = lines[1];
        Assert.Equal(26 + 11 * cpus.Count, toaRow.Length);
        Assert.Equal(1, toaRow[26..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Sum(int.Parse));
    }

    [Fact]
    public async Task Table_LiveConnections_ListsBothFamiliesInTheServersNamespace()
    {
        await LoadAsync();
        await _lab.StartCServerAsync("-6", "-n", "2", $"{Port}");
        // Held open: the server echoes the first while the second waits in its accept queue, recorded too.
        var v4 = StartConnect($"{_lab.Link.B.Ipv4}:{Port}", "203.0.113.7:4321");
        var v6 = StartConnect($"[{_lab.Link.B.Ipv6}]:{Port}", "[2001:db8::7]:2222");

        var lines = await TableRowsAsync(expected: 2);
        v4.StandardInput.Close();
        v6.StandardInput.Close();

        Assert.Matches(@"^family\s+local\s+snat peer\s+real client\s+format\s+from\s+age$", lines[0]);
        var ipv4 = Assert.Single(lines, l => l.StartsWith("IPv4", StringComparison.Ordinal));
        Assert.Matches($@"^IPv4\s+{_lab.Link.B.Ipv4}:{Port}\s+{_lab.Link.A.Ipv4}:\d+\s+203\.0\.113\.7:4321\s+200/8\s+ack\s+\S+$", ipv4);
        var ipv6 = Assert.Single(lines, l => l.StartsWith("IPv6", StringComparison.Ordinal));
        Assert.Matches($@"^IPv6\s+\[{_lab.Link.B.Ipv6}\]:{Port}\s+\[{_lab.Link.A.Ipv6}\]:\d+\s+\[2001:db8::7\]:2222\s+253/20\s+ack\s+\S+$", ipv6);
        var elsewhere = await ToaIn(_lab.Client, "table");
        Assert.Single(elsewhere.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private LabProcess StartConnect(string target, string client) =>
        _lab.Client.Start(ToaCli.Command()[0], [.. ToaCli.Command().Skip(1), "connect", target, "--as", client]);

    // Connections appear in the table once their handshakes are done.
    private async Task<string[]> TableRowsAsync(int expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var table = await ToaAsync("table");
            var lines = table.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (lines.Length > expected || DateTime.UtcNow > deadline)
                return lines;
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task LoadForce_LiveConnection_KeepsItsRealAddress()
    {
        await LoadAsync();
        var server = await _lab.StartCServerAsync("-d", "-n", "1", $"{Port}");
        var client = _lab.Client.Start(ToaCli.Command()[0],
            [.. ToaCli.Command().Skip(1), "connect", $"{_lab.Link.B.Ipv4}:{Port}", "--as", "203.0.113.7:4321", "--in", "ack"]);
        await server.WaitForLineAsync(l => l.StartsWith("accepted", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        var before = ToaReceiver.Status(_lab.PinDirectory)!;

        var force = await LoadAsync("--force", "--trust", "10.200.0.0/16");
        await client.StandardInput.WriteAsync("hello\n");
        client.StandardInput.Close();

        Assert.Equal(0, force.ExitCode);
        Assert.StartsWith("TOA: load success: programs replaced", force.StandardOutput);
        await server.WaitForLineAsync(l => l == "closed", TimeSpan.FromSeconds(30));
        Assert.Contains("real client v4 [203.0.113.7]:4321", server.Output);
        var after = ToaReceiver.Status(_lab.PinDirectory)!;
        Assert.Equal(before.Programs.Select(p => p.LinkId), after.Programs.Select(p => p.LinkId));
        Assert.NotEqual(before.Programs.Select(p => p.ProgramId), after.Programs.Select(p => p.ProgramId));
        Assert.Single(after.Trust);
    }

    [Fact]
    public async Task Unload_RunningServer_NoPinNoProgramAndTheServerSeesSnat()
    {
        await LoadAsync();
        var server = await _lab.StartCServerAsync("-n", "2", $"{Port}");
        await _lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321");
        await server.WaitForLineAsync(l => l == "closed", TimeSpan.FromSeconds(30));

        var unload = await ToaAsync("unload");
        await _lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321");

        Assert.Equal(0, unload.ExitCode);
        Assert.Equal("TOA unloaded", unload.StandardOutput);
        Assert.Contains(Shell.Run("dmesg").Split('\n'), l => l.Contains("TOA: TOA unloaded", StringComparison.Ordinal) && l.Contains(_lab.PinDirectory, StringComparison.Ordinal));
        Assert.False(Directory.Exists(_lab.PinDirectory));
        Assert.Empty(AttachedPrograms());
        await server.WaitForLineAsync(l => server.Output.Count(o => o == "closed") == 2, TimeSpan.FromSeconds(30));
        Assert.Contains(server.Output, l => l.StartsWith($"real client v4 [{_lab.Link.A.Ipv4}]:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Unload_NotLoaded_FailsWithOneLine()
    {
        var result = await ToaAsync("unload");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"fail: toa[2] TOA is not loaded (nothing pinned at {_lab.PinDirectory})", result.StandardError.Trim());
    }

    [Fact]
    public async Task Unload_ForeignPins_RemovesOnlyWhatTheReceiverPinned()
    {
        BpfFs.EnsureMounted();
        // Someone else's directory whose pins bear the receiver's names: it holds no receiver, so nothing goes.
        var foreign = MakeDirectory(_lab.PinDirectory + "-foreign");
        PinForeignMap(Path.Join(foreign, "link-sock-ops"));
        PinForeignMap(Path.Join(foreign, "stats"));

        var notThere = await ToaAt(_lab.Server, foreign, "unload");

        Assert.Equal(1, notThere.ExitCode);
        Assert.Equal(["link-sock-ops", "stats"], Entries(foreign));

        // A receiver pinned beside someone else's map and a link to the other directory's: unload takes only its own.
        MakeDirectory(_lab.PinDirectory);
        PinForeignMap(Path.Join(_lab.PinDirectory, "neighbour"));
        File.CreateSymbolicLink(Path.Join(_lab.PinDirectory, "alias"), Path.Join(foreign, "stats"));
        var load = await LoadAsync();
        Assert.True(load.ExitCode == 0, load.StandardError);

        var unload = await ToaAsync("unload");

        Assert.Equal(0, unload.ExitCode);
        Assert.Equal(["alias", "neighbour"], Entries(_lab.PinDirectory));
        Assert.Equal(["link-sock-ops", "stats"], Entries(foreign));
        Assert.Empty(AttachedPrograms());
    }

    [Fact]
    public async Task Load_PinDirectoryOthersCouldWrite_RefusedNamingIt()
    {
        BpfFs.EnsureMounted();
        var pins = MakeDirectory(_lab.PinDirectory);
        var inner = Path.Join(pins, "inner");
        var alias = _lab.PinDirectory + "-alias";
        _directories.Add(alias);
        File.CreateSymbolicLink(alias, pins);
        Shell.Run("chown", "-h", "1000", alias);
        var cases = new (string Setup, string PinDir, string Says)[]
        {
            ("1000 755", pins, $"{pins} is owned by uid 1000"),
            ("0 777", pins, $"{pins} is writable by others"),
            ("0 777", inner, $"{pins} is writable by others"),
            ("0 755", alias, $"{alias} is owned by uid 1000"),
        };

        foreach (var (setup, pinDir, says) in cases)
        {
            var (owner, mode) = (setup.Split(' ')[0], setup.Split(' ')[1]);
            Shell.Run("chown", owner, pins);
            Shell.Run("chmod", mode, pins);
            var load = await ToaAt(_lab.Server, pinDir, "load", "--cgroup", _lab.Cgroup.Path);

            Assert.True(load.ExitCode == 1, $"{setup} {pinDir}: exit {load.ExitCode} {load.StandardOutput}");
            Assert.Contains(says, load.StandardError.Split('\n')[0]);
            Assert.Empty(Entries(pins));
            Assert.Empty(AttachedPrograms());
        }

        // A receiver whose directory became writable by others is not replaced there either.
        Shell.Run("chmod", "755", pins);
        Assert.Equal(0, (await LoadAsync()).ExitCode);
        var before = ToaReceiver.Status(pins)!.Programs;
        Shell.Run("chmod", "777", pins);
        var force = await LoadAsync("--force");
        Shell.Run("chmod", "755", pins);

        Assert.Equal(1, force.ExitCode);
        Assert.Contains($"{pins} is writable by others", force.StandardError);
        Assert.Equal(before, ToaReceiver.Status(pins)!.Programs);
    }

    [Fact]
    public void Load_MountingTheBpfFilesystem_OnlyRootCreatesThereAndServersStillReachTheRecords()
    {
        // In a mount namespace of its own, without a bpf filesystem: toa load mounts one there. The pins go
        // with the namespace, so a failure leaves nothing attached.
        const string script = """
            set -e
            cgroup=$1 pins=$2; shift 2
            while mountpoint -q /sys/fs/bpf; do umount /sys/fs/bpf; done
            "$@" load --cgroup "$cgroup" --pin-dir "$pins" >&2
            stat -c 'mount %a %u' /sys/fs/bpf
            stat -c 'pins %a %u' "$pins"
            echo "options $(grep ' /sys/fs/bpf ' /proc/self/mountinfo | cut -d' ' -f6)"
            setpriv --reuid=65534 --regid=65534 --clear-groups stat -c 'records %a' "$pins/records"
            if setpriv --reuid=65534 --regid=65534 --clear-groups mkdir /sys/fs/bpf/nobody 2>/dev/null; then echo 'nobody created'; else echo 'nobody refused'; fi
            "$@" unload --pin-dir "$pins" >&2
            """;

        var result = Shell.TryRun("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh",
            _lab.Cgroup.Path, _lab.PinDirectory, .. ToaCli.Command()]);

        Assert.True(result.ExitCode == 0, result.StandardError);
        var lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // The kernel keeps the sticky bit on the root whatever the mode asked.
        Assert.Equal("mount 1755 0", lines[0]);
        Assert.Equal("pins 755 0", lines[1]);
        Assert.Equal(["nodev", "noexec", "nosuid"], lines[2]["options ".Length..].Split(',').Where(o => o.StartsWith("no", StringComparison.Ordinal)).Order());
        Assert.Equal("records 644", lines[3]);
        Assert.Equal("nobody refused", lines[4]);
        Assert.Empty(AttachedPrograms());
    }

    private string MakeDirectory(string path)
    {
        Directory.CreateDirectory(path);
        _directories.Add(path);
        return path;
    }

    private static void PinForeignMap(string path) =>
        Shell.Run("bpftool", "map", "create", path, "type", "array", "key", "4", "value", "4", "entries", "1", "name", "foreign");

    private static string[] Entries(string directory) =>
        [.. Directory.EnumerateFileSystemEntries(directory).Select(e => Path.GetFileName(e)).Order(StringComparer.Ordinal)];

    // bpftool, an oracle we did not write: the links attached to the test's cgroup (whose id is
    // its directory's inode). Not "bpftool cgroup show": Debian 12's bpftool asks the kernel for
    // per-program attach flags, which 5.10 refuses.
    private string[] AttachedPrograms()
    {
        var cgroupId = ulong.Parse(Shell.Run("stat", "-c", "%i", _lab.Cgroup.Path).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        using var links = System.Text.Json.JsonDocument.Parse(Shell.Run("bpftool", "-j", "link", "show"));
        return [.. links.RootElement.EnumerateArray()
            .Where(l => l.TryGetProperty("cgroup_id", out var id) && id.GetUInt64() == cgroupId)
            .Select(l => l.GetProperty("attach_type").ToString())];
    }
}
