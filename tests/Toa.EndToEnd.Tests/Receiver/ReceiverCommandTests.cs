// SPDX-License-Identifier: MIT
using Toa.Lab;
using Toa.Receiver;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>
/// <c>toa load</c>, <c>status</c>, <c>stats</c>, <c>table</c>, <c>load --force</c> and
/// <c>unload</c> as an operator runs them, each test with a cgroup and pin directory of
/// its own; bpftool and the kernel log are the oracles.
/// </summary>
public sealed class ReceiverCommandTests : IDisposable
{
    private const int Port = 8000;
    private readonly ReceiverLab _lab = new(load: false);

    public void Dispose() => _lab.Dispose();

    private Task<ProcessResult> ToaAsync(params string[] args) => ToaIn(_lab.Server, args);

    private Task<ProcessResult> ToaIn(Host host, params string[] args) =>
        host.RunToaAsync("", [.. args, "--pin-dir", _lab.PinDirectory]);

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
    public async Task Status_NotLoaded_SaysSoWithExitCode1()
    {
        var status = await ToaAsync("status");

        Assert.Equal(1, status.ExitCode);
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
            "toa_parse_busy", "toa_parked_evicted"],
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
        Assert.Equal($"toa: TOA is not loaded (nothing pinned at {_lab.PinDirectory})", result.StandardError.Trim());
    }

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
