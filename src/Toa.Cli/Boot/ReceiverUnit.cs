// SPDX-License-Identifier: MIT
using System.Text;

namespace Toa.Cli.Boot;

/// <summary>
/// The systemd unit that loads the receiver at boot, as the kernel module's users put
/// <c>insmod toa.ko</c> in a startup script: a oneshot that stays active after <c>toa load</c>
/// and runs <c>toa unload</c> when stopped.
/// </summary>
internal static class ReceiverUnit
{
    /// <summary>The unit's file name.</summary>
    public const string Name = "toa-receiver.service";

    /// <summary>Where administrators' units live.</summary>
    public const string DefaultDirectory = "/etc/systemd/system";

    /// <summary>What <c>systemctl enable</c> links, for <c>WantedBy=multi-user.target</c>.</summary>
    private const string WantedBy = "multi-user.target";

    /// <summary>The unit file's text.</summary>
    public static string Render(ToaExecutable toa, IReadOnlyList<string> loadArguments, IReadOnlyList<string> unloadArguments)
    {
        var text = new StringBuilder();
        text.AppendLine("# Written by `toa enable`; `toa disable` removes it. Run `toa enable` again to change the options.");
        text.AppendLine("[Unit]");
        text.AppendLine("Description=TOA receiver: real client addresses from TCP options (toa load)");
        // Before servers start: the receiver saves the SYN (for a TOA carried only there) of listeners created after it.
        text.AppendLine("Before=network.target");
        text.AppendLine();
        text.AppendLine("[Service]");
        text.AppendLine("Type=oneshot");
        text.AppendLine("RemainAfterExit=yes");
        if (toa.DotnetRoot is not null)
            text.AppendLine($"Environment={Quote($"DOTNET_ROOT={toa.DotnetRoot}", variables: false)}");
        text.AppendLine($"ExecStart={CommandLine([.. toa.Command, "load", .. loadArguments])}");
        text.AppendLine($"ExecStop={CommandLine([.. toa.Command, "unload", .. unloadArguments])}");
        text.AppendLine();
        text.AppendLine("[Install]");
        text.AppendLine($"WantedBy={WantedBy}");
        return text.ToString();
    }

    /// <summary>Writes the unit into <paramref name="directory"/> and links it from multi-user.target.wants, as <c>systemctl enable</c> does.</summary>
    public static string Install(string directory, string unit)
    {
        var path = Path.Join(directory, Name);
        Directory.CreateDirectory(directory);
        File.WriteAllText(path, unit);
        var wants = Path.Join(directory, $"{WantedBy}.wants");
        Directory.CreateDirectory(wants);
        var link = Path.Join(wants, Name);
        if (new FileInfo(link) is { Exists: true } or { LinkTarget: not null })
            File.Delete(link);
        File.CreateSymbolicLink(link, Path.GetFullPath(path));
        return path;
    }

    /// <summary>Removes the unit and its link; false when neither was there.</summary>
    public static bool Remove(string directory)
    {
        var removed = false;
        foreach (var path in new[] { Path.Join(directory, $"{WantedBy}.wants", Name), Path.Join(directory, Name) })
        {
            if (new FileInfo(path) is { Exists: true } or { LinkTarget: not null })
            {
                File.Delete(path);
                removed = true;
            }
        }
        return removed;
    }

    /// <summary>Arguments as systemd splits an Exec line: quoted where needed, its specifiers (%) and variables ($) escaped.</summary>
    public static string CommandLine(IEnumerable<string> arguments) => string.Join(' ', arguments.Select(a => Quote(a)));

    /// <summary>One word of a unit file; Exec lines expand $VARIABLES, Environment= lines do not.</summary>
    private static string Quote(string argument, bool variables = true)
    {
        var escaped = argument.Replace("%", "%%", StringComparison.Ordinal);
        if (variables)
            escaped = escaped.Replace("$", "$$", StringComparison.Ordinal);
        if (escaped.Length > 0 && !escaped.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\' or ';'))
            return escaped;
        return $"\"{escaped.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
    }
}
