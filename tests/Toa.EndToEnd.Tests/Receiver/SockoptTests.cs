// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>
/// The receiver's and the sender's sockopt programs run for every getsockopt and
/// setsockopt under their cgroup: what they do not answer must reach the caller as
/// the kernel gave it, and what the receiver answers (getsockopt 4096) must behave
/// as toa.ko's. The oracle is sockopt_probe.c, run inside and outside the cgroups.
/// </summary>
public sealed class SockoptTests : IDisposable
{
    private const int Port = 8000;
    private static readonly Lazy<string> s_probe = new(BuildProbe);
    private readonly ReceiverLab _lab = new();

    public void Dispose() => _lab.Dispose();

    private static string Probe => s_probe.Value;

    private static string BuildProbe()
    {
        var binary = Path.Combine(Path.GetTempPath(), $"toa-sockopt-probe-{Environment.ProcessId}");
        Shell.Run("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", binary,
            Path.Combine(CSamples.RepoRoot, "tests", "Toa.EndToEnd.Tests", "Receiver", "sockopt_probe.c"));
        return binary;
    }

    private static string[] Lines(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, $"sockopt_probe exited {result.ExitCode}: {result.StandardError}");
        return result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    // Before 6.5 a value longer than a page failed the call with EFAULT when a program had
    // left optlen as it found it (5.10 did; 6.1 has the kernel's fix backported).
    [Fact]
    public async Task SockOpt_ValuesLongerThanAPage_PassUnchangedUnderTheReceiverAndTheSender()
    {
        var without = Lines(await _lab.Server.RunAsync(Probe, ["large"]));
        Assert.StartsWith("getsockopt SO_PEERGROUPS: ret 0 errno 0 len 6000 a0860100a1860100", without[0], StringComparison.Ordinal);
        Assert.Equal(["setsockopt TCP_NODELAY: ret 0 errno 0 len 8192 then 1", "setsockopt SO_KEEPALIVE: ret 0 errno 0 len 8192 then 1"],
            without[1..]);

        var underReceiver = Lines(await _lab.Server.RunAsync(Probe, ["large"], cgroupDirectory: _lab.Cgroup.Path));
        Assert.Equal(without, underReceiver);

        // The sender as toa connect runs it: in a cgroup of its own while the connection lasts.
        var server = _lab.Server.Start(Probe, ["serve", $"{Port}", "1"]);
        await server.WaitForLineAsync(l => l == "listening", TimeSpan.FromSeconds(20));
        var command = ToaCli.Command("connect", $"{_lab.ServerAddress()}:{Port}", "--as", "203.0.113.7:4321");
        await using var connect = _lab.Client.Start(command[0], command.Skip(1));
        await server.WaitForLineAsync(l => l == "connection 1", TimeSpan.FromSeconds(30));
        var senderGroup = Cgroup.OfProcess(connect.Id);
        Assert.Contains("toa-sender-", senderGroup.Path, StringComparison.Ordinal);
        var underSender = Lines(await _lab.Client.RunAsync(Probe, ["large"], cgroupDirectory: senderGroup.Path));
        connect.StandardInput.Close();
        Assert.Equal(0, (await connect.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
        Assert.Equal(without, underSender);
    }

    // toa.ko: a buffer shorter than 20 bytes or a connection without a NAT64 client is
    // EINVAL (ENOPROTOOPT where the kernel lets no program choose the errno, before 5.18);
    // otherwise 0 and 20 bytes, whatever the buffer's size.
    [Fact]
    public async Task GetSockOpt4096_BufferSizes_AnswerAsTheModule()
    {
        var server = _lab.Server.Start(Probe, ["serve", $"{Port}", "2"], _lab.Cgroup.Path);
        await server.WaitForLineAsync(l => l == "listening", TimeSpan.FromSeconds(20));

        Assert.Equal(0, (await _lab.ConnectAsync(Port, "", "--as", "[2001:db8::7]:2222")).ExitCode);
        Assert.Equal(0, (await _lab.ConnectAsync(Port, "", "--as", "203.0.113.7:4321")).ExitCode);
        await server.WaitForLineAsync(l => l == "closed", TimeSpan.FromSeconds(30));

        var refused = _lab.Option4096Refusal == System.Net.Sockets.SocketError.InvalidArgument ? 22 : 92;
        const string Client = "[2001:db8::7]:2222 next ee";
        var lines = server.Output.ToArray();
        Assert.Equal(
        [
            "listening",
            "connection 1",
            $"len 0: ret -1 errno {refused} len 0",
            $"len 19: ret -1 errno {refused} len 19",
            $"len 20: ret 0 errno 0 len 20 {Client}",
            $"len 21: ret 0 errno 0 len 20 {Client}",
            $"len 8192: ret 0 errno 0 len 20 {Client}",
        ], lines[..7]);
        // toa.ko's copy to a NULL buffer fails (EFAULT); the program cannot see the caller's
        // pointer, and kernels that skip copying to NULL report success with nothing written.
        Assert.Contains(lines[7], new[] { "null buffer: ret -1 errno 14 len 20", "null buffer: ret 0 errno 0 len 20" });
        Assert.Equal(
        [
            "connection 2",
            $"len 0: ret -1 errno {refused} len 0",
            $"len 19: ret -1 errno {refused} len 19",
            $"len 20: ret -1 errno {refused} len 20",
            $"len 21: ret -1 errno {refused} len 21",
            $"len 8192: ret -1 errno {refused} len 8192",
            $"null buffer: ret -1 errno {refused} len 20",
            "closed",
        ], lines[8..]);
    }
}
