// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Cli.Receiver;
using Toa.Receiver;
using Toa.Wire;

namespace Toa.Cli.Doctor;

/// <summary>
/// The exact <c>toa load</c> command lines doctor suggests. A reload with --force replaces
/// every setting, so the suggestion repeats the loaded ones and changes only what must change.
/// </summary>
internal static class LoadCommandText
{
    /// <summary>A first load.</summary>
    public static string Fresh(DoctorContext context, string? cgroup = null) =>
        "toa load" + (cgroup is null ? "" : $" --cgroup {cgroup}") + " --trust CIDR" + context.PinDirArgument
        + " (CIDR: the load balancers' network, e.g. 10.0.0.0/8)";

    /// <summary>A reload of <paramref name="status"/> with another trust list (networks or placeholders) or formats.</summary>
    public static string Reload(DoctorContext context, ReceiverStatus status, IEnumerable<string>? trust = null, ToaLayouts? formats = null)
    {
        var text = "toa load --force";
        if (status.Cgroup != Cgroup.FindRoot())
            text += $" --cgroup {status.Cgroup}";
        var layouts = formats ?? status.Formats;
        if (layouts != ToaLayouts.Default)
            text += " --formats " + string.Join(',', layouts.Members().Select(l => l.Describe()));
        foreach (var network in trust ?? status.Trust.Select(n => n.ToString()))
            text += $" --trust {network}";
        if (status.Nat64Peer != Nat64PeerMode.Real)
            text += " --nat64-peer snat";
        if (status.Namespaces is null)
            text += $" {ReceiverLoadOptions.Netns.Name} {ReceiverLoadOptions.AllNamespaces}";
        return text + context.PinDirArgument;
    }

    /// <summary>"200/8 253/20".</summary>
    public static string Describe(ToaLayouts layouts) => ReceiverCommandOptions.Describe(layouts);
}
