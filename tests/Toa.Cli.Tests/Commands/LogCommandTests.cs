// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Cli.Commands;
using Toa.Receiver;
using Toa.Sockets;
using Toa.Wire;

namespace Toa.Cli.Tests.Commands;

public class LogCommandTests
{
    private static readonly DateTimeOffset Time = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly IPEndPoint Local = IPEndPoint.Parse("10.0.0.2:8000"), Peer = IPEndPoint.Parse("10.0.0.1:40000");

    [Theory]
    [InlineData("--enable", "--disable")]
    [InlineData("--disable", "--follow")]
    public async Task Log_ContradictoryOptions_ExitsTwoWithOneLine(params string[] args)
    {
        var (code, output, error) = await CliHarness.RunAsync(["log", .. args, "--pin-dir", "/nonexistent-toa-test"]);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("fail: toa[1] --", line);
        Assert.EndsWith(" Run 'toa log --help' for usage.", line);
    }

    [Fact]
    public void FormatText_Taken_TimePeerLocalPacketOutcomeAndTheTOA()
    {
        var e = new TraceEvent(Time, Local, Peer, ToaSource.Syn, TraceOutcome.Taken, ToaLayout.Tencent6, IPEndPoint.Parse("[2001:db8::7]:2222"));

        var line = LogCommand.FormatText(e);

        Assert.Equal($"{Time.ToLocalTime():HH:mm:ss}.000000  10.0.0.1:40000 > 10.0.0.2:8000  syn   taken       "
            + "253/20 (tencent) client [2001:db8::7]:2222", line);
    }

    [Fact]
    public void FormatJson_Malformed_HasNoTOAFields()
    {
        var e = new TraceEvent(Time, Local, Peer, ToaSource.Data, TraceOutcome.Malformed, null, null);

        Assert.Equal("""{"time":"2026-01-02T03:04:05.000000Z","local":"10.0.0.2:8000","peer":"10.0.0.1:40000","packet":"data","outcome":"malformed"}""",
            LogCommand.FormatJson(e));
    }
}
