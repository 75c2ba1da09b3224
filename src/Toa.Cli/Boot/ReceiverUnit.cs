// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Text;
using Toa.Cli.CommandLine;

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

    // Root reads the unit and runs its lines at boot: no one else may write it, whatever the umask.
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode DirectoryMode = FileMode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private enum Word { Executable, Argument, Environment }

    /// <summary>
    /// The unit file's text. Throws <see cref="CliException"/> (a usage error) for a word no unit can
    /// carry: a control character (a line break would end the directive and begin another), or a
    /// backslash or quote in the executable's path, which systemd refuses to run.
    /// </summary>
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
            text.AppendLine($"Environment={Quote($"DOTNET_ROOT={toa.DotnetRoot}", Word.Environment)}");
        text.AppendLine($"ExecStart={CommandLine([.. toa.Command, "load", .. loadArguments])}");
        text.AppendLine($"ExecStop={CommandLine([.. toa.Command, "unload", .. unloadArguments])}");
        text.AppendLine();
        text.AppendLine("[Install]");
        text.AppendLine($"WantedBy={WantedBy}");
        return text.ToString();
    }

    /// <summary>
    /// Writes the unit into <paramref name="directory"/> (mode 0644, replacing one there in a single
    /// step) and links it from multi-user.target.wants, as <c>systemctl enable</c> does.
    /// </summary>
    public static string Install(string directory, string unit)
    {
        Debug.Assert(OperatingSystem.IsLinux());
        var path = Path.Join(directory, Name);
        Directory.CreateDirectory(directory, DirectoryMode);
        var written = path + ".new";
        File.Delete(written);
        var options = new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = FileMode };
        using (var writer = new StreamWriter(written, options))
            writer.Write(unit);
        File.Move(written, path, overwrite: true);
        var wants = Path.Join(directory, $"{WantedBy}.wants");
        Directory.CreateDirectory(wants, DirectoryMode);
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

    /// <summary>
    /// A command as systemd splits an Exec line (systemd.service(5)): each word quoted where needed,
    /// specifiers (%) escaped everywhere and variables ($) in the arguments, the only words systemd
    /// expands them in.
    /// </summary>
    public static string CommandLine(IReadOnlyList<string> command) =>
        string.Join(' ', command.Select((word, i) => Quote(word, i == 0 ? Word.Executable : Word.Argument)));

    private static string Quote(string word, Word kind)
    {
        if (word.Any(char.IsControl) || kind == Word.Executable && word.Any(c => c is '\\' or '"' or '\''))
        {
            var shown = string.Concat(word.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));
            throw new CliException(kind == Word.Executable
                ? $"the unit file cannot run '{shown}': systemd refuses an executable whose path holds a control character, a backslash or a quote"
                : $"'{shown}' cannot be written into a unit file: a control character such as a line break would end the directive there",
                ReturnCode.UsageError);
        }
        var escaped = word.Replace("%", "%%", StringComparison.Ordinal);
        if (kind == Word.Argument)
            escaped = escaped.Replace("$", "$$", StringComparison.Ordinal);
        if (escaped.Length > 0 && !escaped.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\' or ';'))
            return escaped;
        return $"\"{escaped.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
    }
}
