// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;
using Toa.Receiver;

namespace Toa.Cli.Commands;

/// <summary><c>toa stats</c>: <c>cat /proc/net/toa_stats</c>.</summary>
internal static class StatsCommand
{
    private static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    public static Command Create()
    {
        var command = new Command("stats",
            "Print the receiver's per-CPU counters in the layout of the kernel module's /proc/net/toa_stats, byte for byte: "
            + "its seven counters (syn_recv_sock_toa, syn_recv_sock_no_toa, getname_toa_ok, getname_toa_mismatch, "
            + "getname_toa_empty, ip6_address_alloc, ip6_address_free), then this receiver's own.\n\nExample: toa stats")
        {
            PinDir,
        };
        command.SetAction(parse =>
        {
            var pins = ReceiverCommandOptions.PinDirOf(parse, PinDir);
            if (!ToaReceiver.IsLoaded(pins))
                throw new CliException($"TOA is not loaded (nothing pinned at {pins})");
            var counters = ToaReceiver.ReadCounters(pins);
            parse.InvocationConfiguration.Output.Write(counters.FormatProcStats(ReceiverCounters.OnlineCpus()));
            return (int)ReturnCode.Ok;
        });
        return command;
    }
}
