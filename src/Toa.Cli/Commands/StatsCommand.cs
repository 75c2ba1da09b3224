// SPDX-License-Identifier: MIT
using System.CommandLine;
using Spectre.Console;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;
using Toa.Cli.Stats;
using Toa.Receiver;

namespace Toa.Cli.Commands;

/// <summary><c>toa stats</c>: <c>cat /proc/net/toa_stats</c>, as JSON, or live like <c>dotnet-counters monitor</c>.</summary>
internal static class StatsCommand
{
    private static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    private static readonly Option<bool> Json = new("--json")
    {
        Description = "Print JSON instead: {\"time\", \"cpus\": [online CPUs], \"counters\": {NAME: {\"total\", \"per_cpu\": [one "
            + "value per online CPU]}}}. With --watch, one object per interval and line: {\"time\", \"interval_seconds\", "
            + "\"counters\": {NAME: {\"total\", \"per_second\"}}}.",
    };

    private static readonly Option<bool> Watch = new("--watch", "-w")
    {
        Description = "Keep watching: every interval, each counter's total and how many per second it moved, in a table "
            + "redrawn in place (plain rows when output is not a terminal). Ctrl+C quits.",
    };

    private static readonly Option<TimeSpan?> Interval = new("--interval")
    {
        Description = "With --watch, how often to read the counters: 500ms, 1s, 1m. Default: 1s.",
        HelpName = "DURATION",
        CustomParser = r => DurationText.TryParse(r.Tokens[0].Value, out var d) ? d
            : ArgumentErrors.Error<TimeSpan?>(r, $"--interval: '{r.Tokens[0].Value}' is not a duration such as 500ms, 1s or 1m"),
    };

    public static Command Create()
    {
        var command = new Command("stats",
            "Print the receiver's per-CPU counters in the layout of the kernel module's /proc/net/toa_stats, byte for byte: "
            + "its seven counters (syn_recv_sock_toa, syn_recv_sock_no_toa, getname_toa_ok, getname_toa_mismatch, "
            + "getname_toa_empty, ip6_address_alloc, ip6_address_free), then this receiver's own. --json prints them for "
            + "programs, --watch shows live rates.\n\n"
            + "Examples:\n  toa stats\n  toa stats --json | jq .counters.syn_recv_sock_toa.total\n  toa stats --watch --interval 2s")
        {
            PinDir, Json, Watch, Interval,
        };
        command.Validators.Add(r =>
        {
            if (r.GetResult(Interval) is not null && r.GetResult(Watch) is null)
                r.AddError("--interval needs --watch");
        });
        command.SetAction(async (parse, cancel) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var pins = ReceiverCommandOptions.PinDirOf(parse, PinDir);
            if (!ToaReceiver.IsLoaded(pins))
                throw new CliException($"TOA is not loaded (nothing pinned at {pins})");
            if (parse.GetValue(Watch))
            {
                using var interruption = Interruption.Listen(cancel);
                var frames = CounterWatch.Frames(() => Read(pins), parse.GetValue(Interval) ?? TimeSpan.FromSeconds(1), TimeProvider.System,
                    interruption.Token);
                await ViewFor(parse.GetValue(Json), output, pins).ShowAsync(frames);
                return (int)ReturnCode.Ok;
            }
            var counters = Read(pins);
            await output.WriteAsync(parse.GetValue(Json)
                ? StatsJson.Snapshot(counters, ReceiverCounters.OnlineCpus(), DateTimeOffset.UtcNow) + "\n"
                : counters.FormatProcStats(ReceiverCounters.OnlineCpus()));
            return (int)ReturnCode.Ok;
        });
        return command;
    }

    private static ReceiverCounters Read(string pins)
    {
        try
        {
            return ToaReceiver.ReadCounters(pins);
        }
        catch (InvalidOperationException)
        {
            throw new CliException($"TOA was unloaded (nothing pinned at {pins} any more)");
        }
    }

    /// <summary>In-place redrawing only on a terminal; rows that stay when output is redirected.</summary>
    private static IStatsView ViewFor(bool json, TextWriter output, string pins) =>
        json ? new JsonLinesView(output)
        : output == Console.Out && !Console.IsOutputRedirected ? new LiveTableView(AnsiConsole.Console, $"TOA receiver at {pins}")
        : new TextView(output);
}
