// SPDX-License-Identifier: MIT
using System.Globalization;
using Toa.Bpf;

namespace Toa.Balancer.Packet;

/// <summary>
/// Where the datapath's maps are pinned: one directory per network namespace, because bpffs is
/// one for the whole machine while each balancer (its namespace) has maps of its own. A new
/// process in the same namespace finds the maps a previous one left, with their connections.
/// </summary>
internal static class PinDirectory
{
    public const string Root = BpfFs.DefaultMount + "/toa/fullnat";

    /// <summary>The directory of the calling process's network namespace (not made).</summary>
    public static string ForCurrentNamespace() =>
        Path.Combine(Root, NetworkNamespace.Of(NetworkNamespace.Current).Inode.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// Refuses <paramref name="path"/> when others than root could change it (and so remove the pins,
    /// or plant maps of their own for the engine to trust); returns it otherwise.
    /// </summary>
    public static string RootOnly(string path) =>
        RootOnlyPath.Problem(path) is { } problem
            ? throw new PacketEngineException($"the packet engine's pins {path}: {problem}")
            : path;
}
