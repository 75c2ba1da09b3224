// SPDX-License-Identifier: MIT
namespace Toa.Cli.CommandLine;

/// <summary>
/// Checks a command makes before it touches the kernel, so the error says why. Root will do, and
/// so will the capabilities that loading and attaching eBPF programs take without it (CAP_BPF or
/// CAP_SYS_ADMIN, with CAP_NET_ADMIN): a unit may grant those instead of running as uid 0.
/// </summary>
internal static class Privileges
{
    private const int CapNetAdmin = 12;
    private const int CapSysAdmin = 21;
    private const int CapBpf = 39;

    /// <summary>Whether this process runs as root (its effective uid: a minimal root may have no /etc/passwd to name it).</summary>
    public static bool IsRoot => Environment.IsPrivilegedProcess;

    /// <summary>Whether this process may load and attach eBPF programs: root, or the capabilities for it.</summary>
    public static bool MayLoadBpf => IsRoot || AllowsBpf(Status("CapEff:")?.Split('\t', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1));

    /// <summary>Refuses, naming what is missing, unless <see cref="MayLoadBpf"/>.</summary>
    public static void RequireRoot(string command)
    {
        if (!MayLoadBpf)
        {
            throw new CliException($"{command} needs root, or CAP_BPF and CAP_NET_ADMIN: it loads eBPF programs and changes cgroups "
                + $"(try: sudo toa {command} ..., or a unit with AmbientCapabilities=CAP_BPF CAP_NET_ADMIN)");
        }
    }

    /// <summary>Whether the effective set <paramref name="capEff"/> (hex, as /proc/self/status writes it) allows loading eBPF.</summary>
    internal static bool AllowsBpf(string? capEff)
    {
        if (!ulong.TryParse(capEff, System.Globalization.NumberStyles.HexNumber, null, out var caps))
            return false;
        bool Has(int cap) => (caps & (1UL << cap)) != 0;
        return (Has(CapBpf) || Has(CapSysAdmin)) && Has(CapNetAdmin);
    }

    private static string? Status(string field) =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
}
