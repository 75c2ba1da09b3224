// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Net;
using Toa.Bpf;
using Toa.Cli.CommandLine;
using Toa.Receiver;
using Toa.Wire;

namespace Toa.Cli.Receiver;

/// <summary>
/// The options of <c>toa load</c>, shared with <c>toa enable</c>, which writes them back as a
/// <c>toa load</c> command line into a unit.
/// </summary>
internal static class ReceiverLoadOptions
{
    public static readonly Option<string?> Cgroup = new("--cgroup")
    {
        Description = "The cgroup v2 directory whose processes' listening sockets get real client addresses: absolute, "
            + "or relative to the cgroup v2 mount (e.g. system.slice/nginx.service). Default: the root of the hierarchy, "
            + "which covers every process, like the kernel module.",
        HelpName = "PATH",
    };

    public static readonly Option<ToaLayouts?> Formats = new("--formats")
    {
        Description = "The TOA layouts to honour, comma-separated: format names (tencent = 200/8 and 253/20, dpvs = 254/8 "
            + "and 254/20, alibaba-cdn = 28/7 and 28/19, ucloud = 253/8), single layouts such as 200/8, default or all. "
            + "Default: tencent,dpvs.",
        HelpName = "FORMATS",
        CustomParser = ReceiverCommandOptions.ParseFormats,
    };

    public static readonly Option<IPNetwork[]> Trust = new("--trust")
    {
        Description = "Believe a TOA only from peers (the load balancer's addresses) in this network, e.g. 10.0.0.0/8 or "
            + "2001:db8::/32; repeat it for several. A TOA from any other peer is ignored and counted (toa_untrusted). "
            + "Default: every peer, as the kernel module does.",
        HelpName = "CIDR",
        CustomParser = ReceiverCommandOptions.ParseNetworks,
        AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<Nat64PeerMode?> Nat64Peer = new("--nat64-peer")
    {
        Description = "What getpeername() on an AF_INET6 socket returns for a NAT64 connection (IPv6 client): real (the "
            + "client, so a dual-stack server needs no change) or snat (the load balancer's address, as the kernel module "
            + "does). getsockopt 4096 gives the client either way. Default: real.",
        HelpName = "real|snat",
    };

    public static readonly Option<string[]> Netns = new("--netns")
    {
        Description = "Honour a TOA only for servers in this network namespace, named by a path such as /proc/PID/ns/net "
            + "(a container's process) or /var/run/netns/NAME (ip netns); repeat it for several, or give all for every "
            + "namespace, as the kernel module does. A TOA to a server in any other namespace is ignored and counted "
            + "(toa_foreign_netns). Default: the namespace toa load runs in (/proc/self/ns/net), usually the host's. "
            + "Example: --netns /proc/self/ns/net --netns /var/run/netns/web",
        HelpName = "PATH|all",
        AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<int?> Connections = new("--connections")
    {
        Description = "How many connections carrying a TOA the receiver keeps at 128 bytes each, in a map whose buckets (16 "
            + "bytes for each of this number rounded up to a power of two) are allocated at load; connections beyond it "
            + "cost about 370 bytes each and are counted (toa_conns_full). A receiver replaced with --force keeps its "
            + "size. Default: 16384 (256 KiB). Example: --connections 1000000 (16 MiB) for a gateway holding a million.",
        HelpName = "N",
    };

    /// <summary>What --netns takes for every network namespace.</summary>
    public const string AllNamespaces = "all";

    public static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    /// <summary>Adds every option to <paramref name="command"/>.</summary>
    public static Command WithLoadOptions(this Command command)
    {
        foreach (var option in new Option[] { Cgroup, Formats, Trust, Nat64Peer, Netns, Connections, PinDir })
            command.Options.Add(option);
        return command;
    }

    /// <summary>The receiver's settings a command line names, defaults filled in.</summary>
    public static ReceiverOptions From(ParseResult parse)
    {
        var formats = parse.GetValue(Formats) ?? ToaLayouts.Default;
        if (formats == ToaLayouts.None)
            throw new CliException("--formats: at least one layout is needed", ReturnCode.UsageError);
        var connections = parse.GetValue(Connections) ?? ReceiverOptions.DefaultConnections;
        if (connections < 1)
            throw new CliException($"--connections {connections}: at least 1", ReturnCode.UsageError);
        return new ReceiverOptions
        {
            Connections = connections,
            PinDirectory = ReceiverCommandOptions.PinDirOf(parse, PinDir),
            Cgroup = parse.GetValue(Cgroup),
            Formats = formats,
            Trust = parse.GetValue(Trust) ?? [],
            Nat64Peer = parse.GetValue(Nat64Peer) ?? Nat64PeerMode.Real,
            Namespaces = NamespacesOf(parse.GetValue(Netns) ?? []),
        };
    }

    // Checked here, so that toa enable refuses what toa load would at boot.
    private static string[]? NamespacesOf(string[] values)
    {
        if (values.Length == 0)
            return [NetworkNamespace.Current];
        if (values.Contains(AllNamespaces))
            return values.Length == 1
                ? null
                : throw new CliException($"--netns {AllNamespaces} names every namespace: give it alone", ReturnCode.UsageError);
        foreach (var path in values)
        {
            try
            {
                NetworkNamespace.Of(path);
            }
            catch (ArgumentException e)
            {
                throw new CliException($"--netns: {e.Message}", ReturnCode.UsageError);
            }
        }
        return values;
    }

    /// <summary>
    /// The <c>toa load</c> arguments that give <paramref name="options"/> back, every setting spelled
    /// out so that a later change of a default does not change what a unit loads.
    /// </summary>
    public static IReadOnlyList<string> ToArguments(ReceiverOptions options)
    {
        var arguments = new List<string>();
        if (options.Cgroup is not null)
            arguments.AddRange([Cgroup.Name, options.Cgroup]);
        arguments.AddRange([Formats.Name, string.Join(',', options.Formats.Members().Select(l => l.Describe()))]);
        foreach (var network in options.Trust)
            arguments.AddRange([Trust.Name, network.ToString()]);
        arguments.AddRange([Nat64Peer.Name, options.Nat64Peer.ToString().ToLowerInvariant()]);
        foreach (var path in options.Namespaces ?? [AllNamespaces])
            arguments.AddRange([Netns.Name, path]);
        // Only when chosen: the size is the map's, which a --force keeps whatever it names.
        if (options.Connections != ReceiverOptions.DefaultConnections)
            arguments.AddRange([Connections.Name, options.Connections.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        arguments.AddRange(PinDirArguments(options.PinDirectory));
        return arguments;
    }

    /// <summary>--pin-dir DIR, or nothing for the default directory.</summary>
    public static IReadOnlyList<string> PinDirArguments(string pinDirectory) =>
        pinDirectory == ToaReceiver.DefaultPinDirectory ? [] : [PinDir.Name, pinDirectory];
}
