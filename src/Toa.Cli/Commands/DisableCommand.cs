// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Cli.Boot;
using Toa.Cli.CommandLine;

namespace Toa.Cli.Commands;

/// <summary><c>toa disable</c>: no more loading at boot.</summary>
internal static class DisableCommand
{
    public static Command Create()
    {
        var command = new Command("disable",
            $"Stop loading the receiver at boot: remove the systemd unit {ReceiverUnit.Name} that toa enable wrote, and its "
            + "link from multi-user.target. A receiver loaded now stays loaded; toa unload removes it. Exit code 1 when "
            + "there was no unit.\n\nExample: toa disable")
        {
            UnitOptions.Directory,
        };
        command.SetAction(parse =>
        {
            var directory = UnitOptions.DirectoryOf(parse);
            if (!ReceiverUnit.Remove(directory))
                throw new CliException($"no {ReceiverUnit.Name} in {directory}: nothing to disable");
            UnitOptions.Reload(directory);
            parse.InvocationConfiguration.Output.WriteLine(
                $"Removed {Path.Join(directory, ReceiverUnit.Name)}; the receiver is no longer loaded at boot (a loaded one stays: toa unload)");
            return (int)ReturnCode.Ok;
        });
        return command;
    }
}
