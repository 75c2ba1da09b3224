// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Net;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;
using Toa.Receiver;
using Toa.Wire;

namespace Toa.Cli.Commands;

/// <summary><c>toa load</c>: what <c>insmod toa.ko</c> does, with eBPF.</summary>
internal static class LoadCommand
{
    private static readonly Option<string?> CgroupOption = new("--cgroup")
    {
        Description = "The cgroup v2 directory whose processes' listening sockets get real client addresses: absolute, "
            + "or relative to the cgroup v2 mount (e.g. system.slice/nginx.service). Default: the root of the hierarchy, "
            + "which covers every process, like the kernel module.",
        HelpName = "PATH",
    };

    private static readonly Option<ToaLayouts?> Formats = new("--formats")
    {
        Description = "The TOA layouts to honour, comma-separated: format names (tencent = 200/8 and 253/20, dpvs = 254/8 "
            + "and 254/20, alibaba-cdn = 28/7 and 28/19, ucloud = 253/8), single layouts such as 200/8, default or all. "
            + "Default: tencent,dpvs.",
        HelpName = "FORMATS",
        CustomParser = ReceiverCommandOptions.ParseFormats,
    };

    private static readonly Option<IPNetwork[]> Trust = new("--trust")
    {
        Description = "Believe a TOA only from peers (the load balancer's addresses) in this network, e.g. 10.0.0.0/8 or "
            + "2001:db8::/32; repeat it for several. A TOA from any other peer is ignored and counted (toa_untrusted). "
            + "Default: every peer, as the kernel module does.",
        HelpName = "CIDR",
        CustomParser = ReceiverCommandOptions.ParseNetworks,
        AllowMultipleArgumentsPerToken = false,
    };

    private static readonly Option<Nat64PeerMode?> Nat64Peer = new("--nat64-peer")
    {
        Description = "What getpeername() on an AF_INET6 socket returns for a NAT64 connection (IPv6 client): real (the "
            + "client, so a dual-stack server needs no change) or snat (the load balancer's address, as the kernel module "
            + "does). getsockopt 4096 gives the client either way. Default: real.",
        HelpName = "real|snat",
    };

    private static readonly Option<bool> Force = new("--force")
    {
        Description = "When a receiver is loaded already, replace its programs and settings in place; live connections "
            + "keep their addresses and the counters keep counting.",
    };

    private static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    public static Command Create()
    {
        var command = new Command("load",
            "Load the receiver: eBPF programs that give servers the real client addresses carried in TOA, as toa.ko does "
            + "(accept() and getpeername() return the client; getsockopt(IPPROTO_IP, 4096) the NAT64 client). Mounts the bpf "
            + "filesystem if needed, attaches to a cgroup, pins under /sys/fs/bpf/toa (so it stays after this command) and "
            + "writes 'TOA: load success' to the kernel log. Needs root.\n\n"
            + "Example: toa load --trust 10.0.0.0/8")
        {
            CgroupOption, Formats, Trust, Nat64Peer, Force, PinDir,
        };
        command.SetAction(parse =>
        {
            Privileges.RequireRoot("load");
            var output = parse.InvocationConfiguration.Output;
            var formats = parse.GetValue(Formats) ?? ToaLayouts.Default;
            if (formats == ToaLayouts.None)
                throw new CliException("--formats: at least one layout is needed", ReturnCode.UsageError);
            var options = new ReceiverOptions
            {
                PinDirectory = ReceiverCommandOptions.PinDirOf(parse, PinDir),
                Cgroup = parse.GetValue(CgroupOption),
                Formats = formats,
                Trust = parse.GetValue(Trust) ?? [],
                Nat64Peer = parse.GetValue(Nat64Peer) ?? Nat64PeerMode.Real,
            };
            using var logging = Logging.Create(parse.InvocationConfiguration.Error, parse.GetValue(CommonOptions.Verbose));
            ReceiverLoadOutcome outcome;
            try
            {
                outcome = ToaReceiver.Load(options, parse.GetValue(Force), logging.CreateLogger("load"));
            }
            catch (Exception e) when (e is InvalidOperationException or DirectoryNotFoundException)
            {
                throw new CliException(e.Message);
            }
            var status = ToaReceiver.Status(options.PinDirectory)!;
            var where = $"attached at {status.Cgroup}, pinned under {status.PinDirectory}";
            switch (outcome)
            {
                case ReceiverLoadOutcome.AlreadyLoaded:
                    output.WriteLine($"TOA is already loaded ({where}, since {status.Since:yyyy-MM-dd HH:mm:ss zzz}); "
                        + "use --force to replace its programs");
                    break;
                case ReceiverLoadOutcome.Replaced:
                    Announce(output, $"load success: programs replaced, live connections keep their addresses ({where})");
                    break;
                default:
                    Announce(output, $"load success ({where}; formats {ReceiverCommandOptions.Describe(status.Formats)})");
                    break;
            }
            return (int)ReturnCode.Ok;
        });
        return command;
    }

    private static void Announce(TextWriter output, string message)
    {
        output.WriteLine($"TOA: {message}");
        KernelLog.Write(message);
    }
}
