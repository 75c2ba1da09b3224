// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Reflection;
using Toa.Cli.CommandLine;

namespace Toa.Cli.Boot;

/// <summary>
/// <c>toa package-files DIR</c> (hidden): what scripts/package takes from the CLI itself, so that
/// the package's manual pages and receiver unit say what this build does. Writes DIR/man1/*.1,
/// DIR/toa-receiver.service and DIR/receiver.conf.
/// </summary>
internal static class PackageFilesCommand
{
    /// <summary>Where the package installs the executable its units run.</summary>
    public const string InstalledExecutable = "/usr/bin/toa";

    private static readonly Argument<DirectoryInfo> Output = new("DIR") { Description = "Where to write the files." };

    public static Command Create()
    {
        var command = new Command("package-files", "Write the Debian package's manual pages, receiver unit and settings file.")
        {
            Hidden = true,
        };
        command.Arguments.Add(Output);
        command.SetAction(parse =>
        {
            var directory = parse.GetValue(Output)!.FullName;
            var man = Path.Join(directory, "man1");
            Directory.CreateDirectory(man);
            foreach (var (name, text) in ManPages.Render(RootCommandFactory.Create(), Version))
                File.WriteAllText(Path.Join(man, name), text);
            File.WriteAllText(Path.Join(directory, ReceiverUnit.Name), ReceiverUnit.RenderPackaged(InstalledExecutable));
            File.WriteAllText(Path.Join(directory, Path.GetFileName(ReceiverUnit.PackagedSettingsFile)), ReceiverUnit.RenderPackagedSettings());
            return (int)ReturnCode.Ok;
        });
        return command;
    }

    /// <summary>This build's version, as --version prints it, without the source revision.</summary>
    public static string Version =>
        (typeof(PackageFilesCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0")
            .Split('+')[0];
}
