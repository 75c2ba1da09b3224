// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Toa.EndToEnd.Tests.Receiver;
using Toa.Lab;
using Toa.Receiver;
using Toa.Testing;
using Toa.Wire;

namespace Toa.EndToEnd.Tests.Doctor;

/// <summary>
/// Each failure of the FAQ made to happen in a lab (a client host, a server host, a receiver
/// attached to a cgroup of the test's own), and <c>toa doctor</c>, run in the server's
/// namespace, naming it with exit code 1; the healthy setup gives exit code 0.
/// </summary>
public sealed class DoctorTests
{
    private const int Port = 8000;
    private const string Client = "203.0.113.7:4321";
    // Long enough for a `toa connect` to start on a busy machine once the capture is open.
    private const string CaptureSeconds = "15";

    private static Task<ProcessResult> DoctorAsync(ReceiverLab lab, params string[] args) =>
        lab.Server.RunToaAsync("", ["doctor", .. args, "--pin-dir", lab.PinDirectory]);

    /// <summary>Runs doctor capturing on the server's link while <paramref name="traffic"/> runs once the capture is open.</summary>
    private static async Task<ProcessResult> DoctorCapturingAsync(ReceiverLab lab, Func<Task> traffic)
    {
        await using var doctor = lab.Server.Start(ToaCli.Command()[0], [.. ToaCli.Command().Skip(1),
            "doctor", "--port", $"{Port}", "--capture", lab.Link.B.Name, "--seconds", CaptureSeconds, "--pin-dir", lab.PinDirectory]);
        await doctor.WaitForLineAsync(l => l.StartsWith("capturing on", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        await traffic();
        return await doctor.WaitAsync(TimeSpan.FromSeconds(120));
    }

    // The lab's links are 10.200.N.0/24: the client host is a trusted load balancer.
    private static ReceiverLab TrustingLab(ToaLayouts formats = ToaLayouts.Default) =>
        new(new ReceiverOptions { Formats = formats, Trust = [new IPNetwork(IPAddress.Parse("10.200.0.0"), 16)] });

    // In the test's own cgroup, not the receiver's.
    private static async Task<LabProcess> StartServerOutsideAsync(ReceiverLab lab)
    {
        var server = lab.Server.Start(CSamples.Build("toa_server"), ["-n", "1", $"{Port}"]);
        await server.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        return server;
    }

    private static async Task ConnectOnceAsync(ReceiverLab lab, LabProcess server, params string[] args)
    {
        await lab.ConnectAsync(Port, "hello\n", ["--as", Client, .. args]);
        await server.WaitForLineAsync(l => l == "closed", TimeSpan.FromSeconds(30));
    }

    private static string[] Lines(ProcessResult result) => result.StandardOutput.Split('\n');

    private static void AssertFinding(ProcessResult result, string severity, string text, string? next = null)
    {
        var lines = Lines(result);
        var at = Array.FindIndex(lines, l => l.StartsWith($"  {severity}", StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal));
        Assert.True(at >= 0, $"no {severity} finding with '{text}' in:\n{result.StandardOutput}\n{result.StandardError}");
        if (next is not null)
            Assert.Contains(next, lines[at + 1]);
    }

    [Fact]
    public async Task Doctor_NotLoaded_NamesItAndTheLoadCommand()
    {
        using var lab = new ReceiverLab(load: false);

        var result = await DoctorAsync(lab);

        Assert.Equal(1, result.ExitCode);
        AssertFinding(result, "problem", $"the TOA receiver is not loaded: nothing is pinned at {lab.PinDirectory}",
            $"next: toa load --trust CIDR --pin-dir {lab.PinDirectory}");
        Assert.Equal("1 problem(s), 0 warning(s)", Lines(result)[^1]);
    }

    [Fact]
    public async Task Doctor_NotRoot_SaysSoWithTheCommandToRunAndSkipsWhatNeedsRoot()
    {
        using var lab = new ReceiverLab();

        var result = await lab.Server.RunAsync("setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", .. ToaCli.Command("doctor", "--port", $"{Port}", "--pin-dir", lab.PinDirectory)]);

        Assert.Equal(1, result.ExitCode);
        AssertFinding(result, "problem", "not running as root",
            $"next: run it as root: sudo toa doctor --port {Port} --pin-dir {lab.PinDirectory}");
        Assert.DoesNotContain("receiver", Lines(result));
        Assert.DoesNotContain("listener", Lines(result));
    }

    [Fact]
    public async Task Doctor_ListenerOutsideTheAttachPoint_NamesTheProcessAndItsCgroup()
    {
        using var lab = TrustingLab();
        var server = await StartServerOutsideAsync(lab);

        var result = await DoctorAsync(lab, "--port", $"{Port}");
        var json = await DoctorAsync(lab, "--port", $"{Port}", "--json");

        Assert.Equal(1, result.ExitCode);
        var own = Path.TrimEndingDirectorySeparator(Bpf.Cgroup.Root
            + File.ReadLines($"/proc/{server.Id}/cgroup").First(l => l.StartsWith("0::", StringComparison.Ordinal))[3..]);
        AssertFinding(result, "problem",
            $"toa_server (pid {server.Id}) listens on 0.0.0.0:{Port} in cgroup {own}, outside the receiver's attach point {lab.Cgroup.Path}",
            $"next: start the server inside {lab.Cgroup.Path}");
        Assert.Equal(1, json.ExitCode);
        using var document = JsonDocument.Parse(json.StandardOutput);
        Assert.False(document.RootElement.GetProperty("healthy").GetBoolean());
        var problem = Assert.Single(document.RootElement.GetProperty("findings").EnumerateArray(),
            f => f.GetProperty("severity").GetString() == "problem");
        Assert.Equal("listener", problem.GetProperty("check").GetString());
    }

    [Fact]
    public async Task Doctor_ListenerOutsideTheAttachPoint_CapturedHandshakesTheReceiverNeverSaw()
    {
        using var lab = TrustingLab();
        var server = await StartServerOutsideAsync(lab);

        var result = await DoctorCapturingAsync(lab, () => ConnectOnceAsync(lab, server));

        Assert.Equal(1, result.ExitCode);
        AssertFinding(result, "problem",
            $"the receiver saw 0 of the 1 handshakes captured (syn_recv_sock_toa + syn_recv_sock_no_toa): the listening socket is outside its attach point {lab.Cgroup.Path}",
            "next: see the listener check above");
        Assert.Contains("accepted v4 [" + lab.Link.A.Ipv4 + "]:", server.Output.Single(l => l.StartsWith("accepted", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Doctor_PacketsWithoutToa_SaysTheBalancerIsNotInsertingIt()
    {
        using var lab = TrustingLab();
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");

        var result = await DoctorCapturingAsync(lab, () =>
        {
            lab.Client.Enter(() => PlainConnection(new IPEndPoint(lab.ServerAddress(), Port)));
            return server.WaitForLineAsync(l => l == "closed", TimeSpan.FromSeconds(30));
        });

        Assert.Equal(1, result.ExitCode);
        AssertFinding(result, "problem",
            $"→ {lab.ServerAddress()}:{Port}: packets arrive without TOA (none in the SYN, the handshake ACK or the first data): the load balancer is not inserting it",
            "next: check the load balancer's listener: TOA switched on, SNAT mode");
        AssertFinding(result, "ok", $"toa_server (pid {server.Id}) listens on 0.0.0.0:{Port} in cgroup {lab.Cgroup.Path}: covered");
    }

    [Fact]
    public async Task Doctor_ToaFromAnUntrustedPeer_SaysHowToTrustIt()
    {
        var trusted = new IPNetwork(IPAddress.Parse("192.0.2.0"), 24);
        using var lab = new ReceiverLab(new ReceiverOptions { Trust = [trusted] });
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");

        var result = await DoctorCapturingAsync(lab, () => ConnectOnceAsync(lab, server));

        Assert.Equal(1, result.ExitCode);
        var peer = lab.Link.A.Ipv4;
        AssertFinding(result, "problem",
            $"TOA 200/8 {Client} in the handshake ACK (tcpdump: unknown-200 0x10e1cb007107), from the untrusted peer {peer}",
            $"next: if {peer} is your load balancer, trust it (or its network): toa load --force --cgroup {lab.Cgroup.Path} --trust {trusted} --trust {peer}/32 --pin-dir {lab.PinDirectory}");
        Assert.Contains($"[{peer}]:", server.Output.Single(l => l.StartsWith("accepted", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Doctor_ToaInALayoutNotHonoured_SaysHowToHonourIt()
    {
        using var lab = TrustingLab(ToaLayouts.Tencent4 | ToaLayouts.Tencent6);
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");

        var result = await DoctorCapturingAsync(lab, () => ConnectOnceAsync(lab, server, "--format", "dpvs"));

        Assert.Equal(1, result.ExitCode);
        AssertFinding(result, "problem",
            $"TOA 254/8 {Client} in the handshake ACK (tcpdump: exp-10e1), a layout the receiver does not honour (200/8 253/20)",
            $"next: honour it too: toa load --force --cgroup {lab.Cgroup.Path} --formats 200/8,253/20,254/8 --trust 10.200.0.0/16 --pin-dir {lab.PinDirectory}");
    }

    [Fact]
    public async Task Doctor_Healthy_ToaArrivesFromATrustedPeerAndIsRecorded_ExitsZero()
    {
        using var lab = TrustingLab();
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");
        LabProcess? client = null;

        // Held open (stdin not closed) so its record is still there when doctor reads the table.
        var result = await DoctorCapturingAsync(lab, async () =>
        {
            client = lab.Client.Start(ToaCli.Command()[0], [.. ToaCli.Command().Skip(1), "connect", $"{lab.ServerAddress()}:{Port}", "--as", Client]);
            await server.WaitForLineAsync(l => l.StartsWith("accepted", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        });
        client!.StandardInput.Close();
        await client.DisposeAsync();

        Assert.True(result.ExitCode == 0, result.StandardOutput + result.StandardError);
        AssertFinding(result, "ok", $"TOA 200/8 {Client} in the handshake ACK (tcpdump: unknown-200 0x10e1cb007107), from a trusted peer; recorded: the server sees {Client}");
        AssertFinding(result, "ok", $"listens on 0.0.0.0:{Port} in cgroup {lab.Cgroup.Path}: covered");
        AssertFinding(result, "ok", "believes TOAs only from peers in 10.200.0.0/16");
        Assert.StartsWith("healthy: no problem found", Lines(result)[^1]);
        Assert.Contains("accepted v4 [203.0.113.7]:4321", server.Output);
    }

    private static bool PlainConnection(IPEndPoint server)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(server);
        socket.Send(Encoding.ASCII.GetBytes("hello\n"));
        socket.Shutdown(SocketShutdown.Send);
        var buffer = new byte[64];
        while (socket.Receive(buffer) > 0)
        {
        }
        return true;
    }
}
