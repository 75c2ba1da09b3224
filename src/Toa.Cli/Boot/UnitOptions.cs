// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Lab;

namespace Toa.Cli.Boot;

/// <summary>What toa enable and toa disable share: where units go, and telling a running systemd.</summary>
internal static class UnitOptions
{
    public static readonly Option<string?> Directory = new("--unit-dir")
    {
        Description = $"The directory of systemd units to write into or remove from. Default: {ReceiverUnit.DefaultDirectory}. "
            + "Another one is for packaging and tests; systemd does not read it.",
        HelpName = "DIR",
    };

    public static string DirectoryOf(ParseResult parse) => parse.GetValue(Directory) ?? ReceiverUnit.DefaultDirectory;

    /// <summary>Has a running systemd read the units again, when they are its own.</summary>
    public static void Reload(string directory)
    {
        if (directory == ReceiverUnit.DefaultDirectory && System.IO.Directory.Exists("/run/systemd/system"))
            Shell.TryRun("systemctl", "daemon-reload");
    }
}
