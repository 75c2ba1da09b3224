// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Bpf;
using Toa.Cli.Boot;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;

namespace Toa.Cli.Commands;

/// <summary><c>toa enable</c>: the TOA guide's "load it from a startup script", as a systemd unit.</summary>
internal static class EnableCommand
{
    private static readonly Option<string?> ToaPath = new("--toa-path")
    {
        Description = "The toa executable the unit runs. Default: this one, as it was started (a .NET tool's shim in "
            + "~/.dotnet/tools, a build output, or dotnet with toa.dll). It runs as root at boot, so it, the runtime it "
            + "runs on, and every directory above them must be root's and writable by no one else; toa enable refuses "
            + "any other.",
        HelpName = "PATH",
    };

    public static Command Create()
    {
        var command = new Command("enable",
            $"Load the receiver at every boot with these options: write the systemd unit {ReceiverUnit.Name} (a oneshot that "
            + "runs 'toa load' with the options given here and 'toa unload' when stopped) and enable it for multi-user.target. "
            + "The options are those of toa load; the cgroup must exist at boot (the root, the default, always does). "
            + "It does not load the receiver now: systemctl start toa-receiver, or toa load, does. toa disable removes the unit. "
            + "Exit code 1 when someone other than root could change the executable the unit would run (see --toa-path), "
            + "2 for an option the unit cannot carry (a control character such as a line break).\n\n"
            + "Examples:\n"
            + "  toa enable --trust 10.0.0.0/8 && systemctl start toa-receiver\n"
            + "  toa enable --toa-path /root/.dotnet/tools/toa --trust 10.0.0.0/8")
        {
            UnitOptions.Directory, ToaPath,
        }.WithLoadOptions();
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var options = ReceiverLoadOptions.From(parse);
            var toa = parse.GetValue(ToaPath) is { } path ? ToaExecutable.At(path) : ToaExecutable.Current();
            if (!File.Exists(toa.Command[^1]))
                throw new CliException($"--toa-path: {toa.Command[^1]} does not exist", ReturnCode.UsageError);
            foreach (var (what, runFrom) in toa.RunFrom)
            {
                if (RootOnlyPath.Problem(runFrom) is { } problem)
                    throw new CliException($"{problem}: the unit would run {what} ({runFrom}) as root at boot, so that only root may "
                        + "change it; install toa where only root can write (as root: dotnet tool install -g Toa.Cli) and name "
                        + "it with --toa-path (/root/.dotnet/tools/toa)");
            }
            // --force: the unit's options win over a receiver loaded by hand before it starts.
            var load = ReceiverLoadOptions.ToArguments(options).Prepend("--force").ToArray();
            var unit = ReceiverUnit.Render(toa, load, ReceiverLoadOptions.PinDirArguments(options.PinDirectory));
            var directory = UnitOptions.DirectoryOf(parse);
            var file = ReceiverUnit.Install(directory, unit);
            UnitOptions.Reload(directory);
            output.WriteLine($"Installed {file}, enabled for multi-user.target. At boot it runs:");
            output.WriteLine($"  {ReceiverUnit.CommandLine([.. toa.Command, "load", .. load])}");
            if (toa.InCheckout)
                output.WriteLine($"warning: {toa.Command[^1]} is in a source checkout: the unit breaks if it moves or is cleaned; "
                    + "install toa as a .NET tool (dotnet tool install -g Toa.Cli) and run toa enable from there");
            output.WriteLine("Load it now with: systemctl start toa-receiver");
            return (int)ReturnCode.Ok;
        });
        return command;
    }
}
