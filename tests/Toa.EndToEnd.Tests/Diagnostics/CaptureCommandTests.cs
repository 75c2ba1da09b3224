// SPDX-License-Identifier: MIT
using System.Text.Json;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Diagnostics;

/// <summary>
/// <c>toa capture --read</c> on a file tcpdump wrote in the server's namespace while
/// <c>toa connect</c> sent every format. Needs root, BPF, cgroup v2.
/// </summary>
public sealed class CaptureCommandTests() : TwoHostTests("cap")
{

    /// <summary>--format and --as of toa connect, and what toa capture prints for the handshake ACK.</summary>
    private static readonly (string Format, string Client, string Expected)[] Formats =
    [
        ("tencent", "203.0.113.7:4321", "200/8 tencent 203.0.113.7:4321"),
        ("tencent", "[2001:db8::7]:2222", "253/20 tencent [2001:db8::7]:2222"),
        ("dpvs", "203.0.113.8:4322", "254/8 dpvs 203.0.113.8:4322"),
        ("dpvs", "[2001:db8::8]:2223", "254/20 dpvs [2001:db8::8]:2223"),
        ("alibaba-cdn", "203.0.113.9:4323", "28/7 alibaba-cdn 203.0.113.9"),
        ("alibaba-cdn", "[2001:db8::9]:2224", "28/19 alibaba-cdn 2001:db8::9"),
        ("ucloud", "203.0.113.10:4324", "253/8 ucloud 203.0.113.10:4324"),
    ];

    private async Task<PacketCapture> CaptureEveryFormatAsync()
    {
        var capture = await Server.CaptureAsync("eth0", "tcp port 8000");
        using (Server.StartEchoServer(Link.B.Ipv4))
        {
            foreach (var (format, client, _) in Formats)
            {
                var sent = await Client.RunToaAsync("hi\n", "connect", $"{Link.B.Ipv4}:8000", "--format", format, "--as", client);
                Assert.True(sent.ExitCode == 0, sent.StandardError);
            }
        }
        await capture.StopAsync(PacketCapture.Ended(8000, Formats.Length));
        return capture;
    }

    private static ProcessResult Capture(params string[] args)
    {
        var command = ToaCli.Command(["capture", .. args]);
        return Shell.TryRun(command[0], [.. command.Skip(1)]);
    }

    [Fact]
    public async Task Capture_ReadTcpdumpFile_EveryFormatFromTheClientToTheServer()
    {
        await using var capture = await CaptureEveryFormatAsync();

        var result = Capture("--read", capture.File);

        Assert.True(result.ExitCode == 0, result.StandardError);
        var lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (var (_, _, expected) in Formats)
        {
            // The handshake ACK and the first data segment carry it (toa connect's default placement).
            Assert.Contains(lines, l => l.EndsWith($"> {Link.B.Ipv4}:8000 [.] {expected}", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.EndsWith($"> {Link.B.Ipv4}:8000 [P.] {expected}", StringComparison.Ordinal));
        }
        Assert.All(lines, l => Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ > \S+ \[[SFPR.]+\] \d+/\d+ ", l));
        Assert.DoesNotContain(lines, l => l.Contains("malformed", StringComparison.Ordinal));
        Assert.Matches(@"^\d+ TCP segments read, \d+ shown carrying a TOA$", result.StandardError.Trim());
    }

    [Fact]
    public async Task Capture_ReadJson_SameSegmentsOneObjectEach()
    {
        await using var capture = await CaptureEveryFormatAsync();

        var text = Capture("--read", capture.File).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var json = Capture("--read", capture.File, "--json").StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(text.Length, json.Length);
        var clients = json.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("toa")[0])
            .Select(t => $"{t.GetProperty("kind").GetInt32()}/{t.GetProperty("length").GetInt32()} {t.GetProperty("format").GetString()} {t.GetProperty("client").GetString()}")
            .ToHashSet();
        Assert.Equal(Formats.Select(f => f.Expected).ToHashSet(), clients);
    }

    [Fact]
    public async Task Capture_ReadWithCountAndFilter_StopsAtTheCount()
    {
        await using var capture = await CaptureEveryFormatAsync();

        var result = Capture("--read", capture.File, "--count", "2", "--filter", "tcp dst port 8000");

        Assert.Equal(2, result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Capture_Live_SeesTheToaOfAConnect()
    {
        using var server = Server.StartEchoServer(Link.B.Ipv4);
        var command = ToaCli.Command("capture", "--interface", "eth0", "--count", "1", "--seconds", "60");
        await using var live = Server.Start(command[0], command.Skip(1));

        // The capture starts some time after the process does: connect until it has seen one.
        // Only the ACK carries the TOA, so a capture that starts mid-connection sees the next one's.
        ProcessResult sent = null!;
        for (var attempt = 0; attempt < 20 && !live.HasExited; attempt++)
        {
            sent = await Client.RunToaAsync("hi\n", "connect", $"{Link.B.Ipv4}:8000", "--as", "203.0.113.7:4321", "--in", "ack");
            for (var wait = 0; wait < 20 && !live.HasExited; wait++)
                await Task.Delay(100);
        }
        var result = await live.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, sent.ExitCode);
        Assert.Equal(0, result.ExitCode);
        Assert.EndsWith($"> {Link.B.Ipv4}:8000 [.] 200/8 tencent 203.0.113.7:4321", result.StandardOutput.Trim());
    }
}
