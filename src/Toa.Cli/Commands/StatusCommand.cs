// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Bpf;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;
using Toa.Receiver;

namespace Toa.Cli.Commands;

/// <summary><c>toa status</c>: what <c>lsmod | grep toa</c> tells, and the settings.</summary>
internal static class StatusCommand
{
    private static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    public static Command Create()
    {
        var command = new Command("status",
            "Tell whether the receiver is loaded, where it is attached, the formats, trust list and network namespaces it uses, its programs' "
            + "ids and since when. Exit code 0 when loaded, 3 when not (as systemctl status and LSB init scripts say 'not running'). Needs root.\n\nExample: toa status")
        {
            PinDir,
        };
        command.SetAction(parse =>
        {
            Privileges.RequireRoot("status");
            var output = parse.InvocationConfiguration.Output;
            var pins = ReceiverCommandOptions.PinDirOf(parse, PinDir);
            var status = ToaReceiver.Status(pins);
            if (status is null)
            {
                output.WriteLine($"TOA receiver: not loaded (nothing pinned at {pins})");
                return (int)ReturnCode.NotLoaded;
            }
            output.WriteLine("TOA receiver: loaded");
            output.WriteLine($"  attached to:  {status.Cgroup}");
            output.WriteLine($"  pinned under: {status.PinDirectory}");
            output.WriteLine($"  since:        {status.Since:yyyy-MM-dd HH:mm:ss zzz}");
            output.WriteLine($"  formats:      {ReceiverCommandOptions.Describe(status.Formats)}");
            output.WriteLine($"  trust:        {(status.Trust.Count == 0 ? "every peer" : string.Join(' ', status.Trust))}");
            output.WriteLine($"  netns:        {Describe(status.Namespaces)}");
            output.WriteLine($"  nat64 peer:   {(status.Nat64Peer == Nat64PeerMode.Real ? "real (getpeername on AF_INET6 sockets gives the IPv6 client)" : "snat (getpeername keeps the load balancer's address)")}");
            output.WriteLine($"  getsockopt 4096 without a NAT64 client: {(status.ErrnoFromProgram ? "EINVAL" : "ENOPROTOOPT (this kernel lets programs choose no errno)")}");
            output.WriteLine($"  programs:     {string.Join(", ", status.Programs.Select(p => $"{p.Hook} id {p.ProgramId} (link {p.LinkId})"))}");
            output.WriteLine($"  tracing:      {(ReceiverTrace.IsEnabled(pins) ? "on (toa log -f prints the events; toa log --disable)" : "off (toa log --enable)")}");
            if (status.Trust.Count == 0)
                output.WriteLine("warning: no trust list: any client that reaches this server directly can claim any address "
                    + "with a TOA option; load with --trust CIDR naming the load balancers' networks");
            return (int)ReturnCode.Ok;
        });
        return command;
    }

    // The namespaces with the paths that name them here: this one, and ip netns's.
    private static string Describe(IReadOnlyList<NetworkNamespace>? namespaces)
    {
        if (namespaces is null)
            return "every network namespace";
        var names = new Dictionary<NetworkNamespace, string>();
        foreach (var path in Directory.Exists(NamedNamespaces) ? Directory.EnumerateFiles(NamedNamespaces) : [])
        {
            try
            {
                names.TryAdd(NetworkNamespace.Of(path), path);
            }
            catch (ArgumentException)
            {
                // Not a namespace (or one being deleted): nothing to name.
            }
        }
        names[NetworkNamespace.Of(NetworkNamespace.Current)] = "this one";
        return namespaces.Count == 0
            ? "none"
            : string.Join(", ", namespaces.Select(ns => names.TryGetValue(ns, out var name) ? $"{ns} ({name})" : ns.ToString()));
    }

    private const string NamedNamespaces = "/var/run/netns";
}
