// SPDX-License-Identifier: MIT
using System.Net;
using System.Text.Json;
using Toa.Lab;
using Toa.Receiver;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>
/// <c>toa log</c>: the receiver's trace of <c>toa connect</c>'s connections across
/// namespaces, switched on and off at run time; the events are checked against what
/// the client sent.
/// </summary>
public sealed class TraceTests : IDisposable
{
    private const int Port = 8000;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private readonly ReceiverLabs _labs = new();

    public void Dispose() => _labs.Dispose();

    private ReceiverLab Lab(ReceiverOptions? options = null) => _labs.Add(options);

    private static Task<ProcessResult> Toa(ReceiverLab lab, params string[] args) =>
        lab.Server.RunToaAsync("", [.. args, "--pin-dir", lab.PinDirectory]);

    private static LabProcess Follow(ReceiverLab lab, params string[] args)
    {
        var command = ToaCli.Command(["log", "--follow", .. args, "--pin-dir", lab.PinDirectory]);
        return lab.Server.Start(command[0], command.Skip(1));
    }

    /// <summary>Connects once with <paramref name="args"/> and waits until the server is done with it.</summary>
    private static async Task ConnectOnceAsync(ReceiverLab lab, params string[] args)
    {
        await using var server = await lab.StartCServerAsync("-n", "1", $"{Port}");
        var result = await lab.ConnectAsync(Port, "hello\n", args);
        Assert.True(result.ExitCode == 0, result.StandardError);
        await server.WaitForLineAsync(l => l == "closed", Generous);
    }

    [Fact]
    public async Task Follow_Connect_PrintsTheTakenTOAFromTheHandshakeAck()
    {
        var lab = Lab();
        Assert.Equal(0, (await Toa(lab, "log", "--enable")).ExitCode);
        await using var log = Follow(lab);

        await ConnectOnceAsync(lab, "--as", "203.0.113.7:4321");

        var line = await log.WaitForLineAsync(l => l.Contains("taken", StringComparison.Ordinal), Generous);
        Assert.Matches($@"^\d\d:\d\d:\d\d\.\d{{6}}  {Regex(lab.Link.A.Ipv4)}:\d+ > {Regex(lab.ServerAddress())}:{Port}  ack   taken       "
            + @"200/8 \(tencent\) client 203\.0\.113\.7:4321$", line);
    }

    [Fact]
    public async Task FollowJson_Connect_PrintsOneObjectPerEvent()
    {
        var lab = Lab();
        await Toa(lab, "log", "--enable");
        await using var log = Follow(lab, "--json");

        await ConnectOnceAsync(lab, "--as", "[2001:db8::7]:2222");

        var line = await log.WaitForLineAsync(l => l.Contains("taken", StringComparison.Ordinal), Generous);
        using var json = JsonDocument.Parse(line);
        var e = json.RootElement;
        Assert.Equal("ack", e.GetProperty("packet").GetString());
        Assert.Equal(253, e.GetProperty("kind").GetInt32());
        Assert.Equal(20, e.GetProperty("length").GetInt32());
        Assert.Equal("[2001:db8::7]:2222", e.GetProperty("client").GetString());
        Assert.Equal($"{lab.ServerAddress()}:{Port}", e.GetProperty("local").GetString());
        Assert.StartsWith($"{lab.Link.A.Ipv4}:", e.GetProperty("peer").GetString());
        Assert.True(DateTimeOffset.TryParse(e.GetProperty("time").GetString(), out _));
    }

    public static TheoryData<string[], string, string> Refusals => new()
    {
        // Two TOAs in one header: nothing is used. Then a peer outside the trust list, a layout not
        // honoured (in the ACK, in the SYN), and a handshake without TOA.
        { ["--as", "203.0.113.7:4321", "--as", "[2001:db8::7]:2222"], "ack   malformed   a broken option or a second TOA: nothing used", "" },
        { ["--as", "203.0.113.7:4321"], "ack   untrusted   200/8 (tencent) client 203.0.113.7:4321 ignored: the peer is outside the trust list", "198.51.100.0/24" },
        { ["--as", "203.0.113.7:4321", "--format", "alibaba-cdn"], "ack   unhonoured  28/7 (alibaba-cdn) client 203.0.113.7:", "" },
        { ["--as", "203.0.113.7:4321", "--format", "alibaba-cdn", "--in", "syn"], "syn   unhonoured  28/7 (alibaba-cdn) client 203.0.113.7:", "" },
        { ["--as", "203.0.113.7:4321", "--in", "data"], "ack   absent      no TOA in the handshake: waiting for the first data", "" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Follow_ConnectionWhoseTOAIsNotTaken_SaysWhy(string[] connect, string expected, string trust)
    {
        var lab = Lab(trust.Length == 0 ? null : new ReceiverOptions { Trust = [IPNetwork.Parse(trust)] });
        await Toa(lab, "log", "--enable");
        await using var log = Follow(lab);

        await ConnectOnceAsync(lab, connect);

        var line = await log.WaitForLineAsync(l => l.Contains(expected, StringComparison.Ordinal), Generous);
        Assert.Contains($"{lab.Link.A.Ipv4}:", line);
    }

    [Fact]
    public async Task FollowData_TOAOnlyInTheData_TakenFromTheData()
    {
        var lab = Lab();
        await Toa(lab, "log", "--enable");
        await using var log = Follow(lab);

        await ConnectOnceAsync(lab, "--as", "203.0.113.7:4321", "--in", "data");

        await log.WaitForLineAsync(l => l.Contains("data  taken       200/8 (tencent) client 203.0.113.7:4321", StringComparison.Ordinal), Generous);
    }

    [Fact]
    public async Task EnableDisable_RoundTrip_StatusAndKernelLogFollow()
    {
        var lab = Lab();
        Assert.Contains("  tracing:      off (toa log --enable)", (await Toa(lab, "status")).StandardOutput.Split('\n'));

        var on = await Toa(lab, "log", "--enable");
        var again = await Toa(lab, "log", "--enable");
        var status = await Toa(lab, "status");
        var off = await Toa(lab, "log", "--disable");

        Assert.Equal(0, on.ExitCode);
        Assert.StartsWith("TOA: tracing on", on.StandardOutput);
        Assert.Equal("TOA: tracing is already on", again.StandardOutput.Trim());
        Assert.Contains(status.StandardOutput.Split('\n'), l => l.StartsWith("  tracing:      on", StringComparison.Ordinal));
        Assert.Equal("TOA: tracing off", off.StandardOutput.Trim());
        Assert.False(ReceiverTrace.IsEnabled(lab.PinDirectory));
        Assert.Contains(Shell.Run("dmesg").Split('\n'), l => l.Contains("TOA: tracing on", StringComparison.Ordinal) && l.Contains(lab.PinDirectory, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Off_Connect_NoEventsUntilSwitchedOn()
    {
        var lab = Lab();

        await ConnectOnceAsync(lab, "--as", "203.0.113.7:1111");
        var whileOff = await Toa(lab, "log");
        await Toa(lab, "log", "--enable");
        await ConnectOnceAsync(lab, "--as", "203.0.113.7:2222");
        var whileOn = await Toa(lab, "log");

        Assert.Equal(0, whileOff.ExitCode);
        Assert.Equal("", whileOff.StandardOutput);
        Assert.Contains("tracing is off", whileOff.StandardError);
        Assert.Single(whileOn.StandardOutput.Split('\n'), l => l.Length > 0);
        Assert.Contains("client 203.0.113.7:2222", whileOn.StandardOutput);
    }

    [Fact]
    public async Task Follow_SecondReader_RefusedWhileTheFirstReads()
    {
        var lab = Lab();
        await using var first = Follow(lab);
        await first.WaitForLineAsync(l => l.Contains("tracing is off", StringComparison.Ordinal), Generous);

        var second = await Toa(lab, "log");

        Assert.Equal(1, second.ExitCode);
        Assert.Contains("one reader at a time", second.StandardError);
    }

    private static string Regex(IPAddress address) => System.Text.RegularExpressions.Regex.Escape(address.ToString());
}
