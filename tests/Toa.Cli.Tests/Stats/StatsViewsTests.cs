// SPDX-License-Identifier: MIT
using System.Text.Json;
using Spectre.Console;
using Toa.Cli.Stats;
using Toa.Receiver;

namespace Toa.Cli.Tests.Stats;

public class StatsViewsTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static async IAsyncEnumerable<StatsFrame> Frames(params (ulong Total, double Rate)[] values)
    {
        var second = 0;
        foreach (var (total, rate) in values)
        {
            await Task.Yield();
            yield return new StatsFrame(Start.AddSeconds(++second), TimeSpan.FromSeconds(1),
                [new CounterRate("syn_recv_sock_toa", total, rate), new CounterRate("toa_untrusted", 0, 0)]);
        }
    }

    [Fact]
    public async Task TextView_TwoFrames_ABlockOfAlignedRowsEach()
    {
        var output = new StringWriter();

        await new TextView(output).ShowAsync(Frames((1234, 2.5), (1240, 6)));

        Assert.Equal(
        [
            "2026-01-02 03:04:06Z           total   per second",
            "syn_recv_sock_toa                   1,234          2.5",
            "toa_untrusted                           0            0",
            "2026-01-02 03:04:07Z           total   per second",
            "syn_recv_sock_toa                   1,240            6",
            "toa_untrusted                           0            0",
        ], output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task JsonLinesView_OneObjectPerFrame()
    {
        var output = new StringWriter();

        await new JsonLinesView(output).ShowAsync(Frames((7, 0.5)));

        var line = Assert.Single(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var json = JsonDocument.Parse(line);
        Assert.Equal(Start.AddSeconds(1), json.RootElement.GetProperty("time").GetDateTimeOffset());
        Assert.Equal(1.0, json.RootElement.GetProperty("interval_seconds").GetDouble());
        var counter = json.RootElement.GetProperty("counters").GetProperty("syn_recv_sock_toa");
        Assert.Equal(7UL, counter.GetProperty("total").GetUInt64());
        Assert.Equal(0.5, counter.GetProperty("per_second").GetDouble());
    }

    [Fact]
    public async Task LiveTableView_SecondFrame_RedrawsInPlaceWithNewValues()
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.Yes,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 160;

        await new LiveTableView(console, "TOA receiver at /sys/fs/bpf/toa").ShowAsync(Frames((1234, 2.5), (1240, 6)));

        var text = output.ToString();
        var last = text[text.LastIndexOf("TOA receiver at", StringComparison.Ordinal)..];
        Assert.Contains("\u001b[", text[..text.LastIndexOf("TOA receiver at", StringComparison.Ordinal)]);
        var row = last.Split('\n').Single(l => l.Contains("syn_recv_sock_toa", StringComparison.Ordinal));
        Assert.Matches(@"syn_recv_sock_toa\s+│\s+1,240\s+│\s+6\s+│ Connections whose handshake", row);
        Assert.Contains("Press Ctrl+C to quit", last);
    }

    [Fact]
    public void Snapshot_PerCpuInTheOrderOfOnlineCpus()
    {
        var counters = new ReceiverCounters([new ToaCounter("getname_toa_ok", [1, 2, 3, 4])]);

        using var json = JsonDocument.Parse(StatsJson.Snapshot(counters, [0, 2, 3], Start));

        Assert.Equal([0, 2, 3], json.RootElement.GetProperty("cpus").EnumerateArray().Select(e => e.GetInt32()));
        var counter = json.RootElement.GetProperty("counters").GetProperty("getname_toa_ok");
        Assert.Equal(10UL, counter.GetProperty("total").GetUInt64());
        Assert.Equal([1UL, 3UL, 4UL], counter.GetProperty("per_cpu").EnumerateArray().Select(e => e.GetUInt64()));
    }
}
