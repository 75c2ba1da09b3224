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
    public static string Render(ToaExecutable toa, IReadOnlyList<string> loadArguments, IReadOnlyList<string> unloadArguments) =>
        Text("# Written by `toa enable`; `toa disable` removes it. Run `toa enable` again to change the options.", documented: false,
            toa.DotnetRoot is null ? [] : [$"Environment={Quote($"DOTNET_ROOT={toa.DotnetRoot}", Word.Environment)}"],
            CommandLine([.. toa.Command, "load", .. loadArguments]),
            reload: null,
            CommandLine([.. toa.Command, "unload", .. unloadArguments]));

    /// <summary>The package's configuration file, which <see cref="RenderPackaged"/> reads.</summary>
    public const string PackagedSettingsFile = "/etc/toa/receiver.conf";

    /// <summary>
    /// The variables of <see cref="PackagedSettingsFile"/>, each holding <c>toa load</c> options, with what
    /// the file says of them and the value it is installed with. <c>$NAME</c> in an Exec line is replaced by
    /// its words, none when it is empty (systemd.service(5)).
    /// </summary>
    public static readonly IReadOnlyList<(string Name, string Comment, string Value)> PackagedSettings =
    [
        ("TOA_TRUST", "The load balancers' networks: a TOA from any other peer is ignored and counted. One --trust CIDR each, e.g. "
            + "\"--trust 10.0.0.0/8 --trust 2001:db8::/32\". Empty: every peer (toa status warns).", ""),
        ("TOA_FORMATS", "The TOA layouts honoured: --formats tencent,dpvs (the default), alibaba-cdn, ucloud, single layouts such as 200/8, or all.",
            "--formats tencent,dpvs"),
        ("TOA_CGROUP", "The cgroup v2 directory whose servers get real clients: --cgroup PATH. Empty: the root, every process.", ""),
        ("TOA_OPTIONS", "Any other toa load options (toa load --help, man toa-load): --netns, --nat64-peer.", ""),
        ("TOA_PIN_DIR", "Where the receiver is pinned, for load and unload alike: --pin-dir DIR. Empty: /sys/fs/bpf/toa.", ""),
    ];

    /// <summary>
    /// The package's unit: <c>toa load --force</c> with the settings of <see cref="PackagedSettingsFile"/> at start
    /// and at reload (new settings, live connections keep their addresses), <c>toa unload</c> at stop.
    /// </summary>
    public static string RenderPackaged(string executable)
    {
        string Variables(params string[] names) => string.Concat(names.Select(n => $" ${n}"));
        var load = CommandLine([executable, "load", "--force"]) + Variables([.. PackagedSettings.Select(s => s.Name)]);
        return Text($"# Installed by the toa package; its settings are in {PackagedSettingsFile} (systemctl reload toa-receiver applies a change).", documented: true,
            [$"EnvironmentFile={PackagedSettingsFile}"],
            load,
            reload: load,
            CommandLine([executable, "unload"]) + Variables("TOA_PIN_DIR"));
    }

    /// <summary>The text of <see cref="PackagedSettingsFile"/> as installed: every setting, commented.</summary>
    public static string RenderPackagedSettings()
    {
        var text = new StringBuilder();
        text.AppendLine("# toa-receiver.service's settings: options of toa load, read by systemd (EnvironmentFile=)");
        text.AppendLine("# and by the package's scripts. After a change: systemctl reload toa-receiver (live");
        text.AppendLine("# connections keep their addresses).");
        foreach (var (name, comment, value) in PackagedSettings)
        {
            text.AppendLine();
            var line = new StringBuilder("#");
            foreach (var word in comment.Split(' '))
            {
                if (line.Length + word.Length >= 100)
                {
                    text.AppendLine(line.ToString());
                    line.Clear().Append('#');
                }
                line.Append(' ').Append(word);
            }
            text.AppendLine(line.ToString());
            text.AppendLine($"{name}=\"{value}\"");
        }
        return text.ToString();
    }

    // Documentation= only where the manual pages are installed too: systemd-analyze verify looks for them.
    private static string Text(string header, bool documented, IReadOnlyList<string> environment, string start, string? reload, string stop)
    {
        var text = new StringBuilder();
        text.AppendLine(header);
        text.AppendLine("[Unit]");
        text.AppendLine("Description=TOA receiver: real client addresses from TCP options (toa load)");
        if (documented)
            text.AppendLine("Documentation=man:toa-load(1)");
        // Before servers start: the receiver saves the SYN (for a TOA carried only there) of listeners created after it.
        text.AppendLine("Before=network.target");
        text.AppendLine();
        text.AppendLine("[Service]");
        text.AppendLine("Type=oneshot");
        text.AppendLine("RemainAfterExit=yes");
        foreach (var line in environment)
            text.AppendLine(line);
        text.AppendLine($"ExecStart={start}");
        if (reload is not null)
            text.AppendLine($"ExecReload={reload}");
        text.AppendLine($"ExecStop={stop}");
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
