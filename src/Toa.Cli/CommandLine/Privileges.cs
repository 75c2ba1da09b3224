// SPDX-License-Identifier: MIT
namespace Toa.Cli.CommandLine;

/// <summary>Checks a command makes before it touches the kernel, so the error says why.</summary>
internal static class Privileges
{
    /// <summary>Whether this process runs as root.</summary>
    public static bool IsRoot => Environment.UserName == "root" || IsUidZero();

    public static void RequireRoot(string command)
    {
        if (!IsRoot)
            throw new CliException($"{command} needs root: it loads eBPF programs and changes cgroups (try: sudo toa {command} ...)");
    }

    private static bool IsUidZero() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))
            ?.Split('\t', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1) == "0";
}
