// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;
using Toa.Receiver;

namespace Toa.Cli.Commands;

/// <summary><c>toa unload</c>: what <c>rmmod toa</c> does.</summary>
internal static class UnloadCommand
{
    private static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    public static Command Create()
    {
        var command = new Command("unload",
            "Unload the receiver: detach its programs and remove its pins, then write 'TOA unloaded' to the kernel log. "
            + "Only the receiver's own pins go (its links and the maps its programs use); anything else in the pin directory "
            + "stays, and so does the directory unless it is left empty. Running servers keep running; their connections show "
            + "the load balancer's (SNAT) addresses again. Exit code 1 when no receiver is pinned there. Needs root.\n\n"
            + "Examples:\n  toa unload\n  toa unload --pin-dir /sys/fs/bpf/toa-staging")
        {
            PinDir,
        };
        command.SetAction(parse =>
        {
            Privileges.RequireRoot("unload");
            var pins = ReceiverCommandOptions.PinDirOf(parse, PinDir);
            if (!ToaReceiver.Unload(pins))
                throw new CliException($"TOA is not loaded (nothing pinned at {pins})");
            parse.InvocationConfiguration.Output.WriteLine("TOA unloaded");
            KernelLog.Write($"TOA unloaded (pins removed from {pins})");
            return (int)ReturnCode.Ok;
        });
        return command;
    }
}
