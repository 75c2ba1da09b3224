// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;
using Toa.Receiver;

namespace Toa.Cli.Commands;

/// <summary><c>toa load</c>: what <c>insmod toa.ko</c> does, with eBPF.</summary>
internal static class LoadCommand
{
    private static readonly Option<bool> Force = new("--force")
    {
        Description = "When a receiver is loaded already, replace its programs and settings in place; live connections "
            + "keep their addresses and the counters keep counting.",
    };

    public static Command Create()
    {
        var command = new Command("load",
            "Load the receiver: eBPF programs that give servers the real client addresses carried in TOA, as toa.ko does "
            + "(accept() and getpeername() return the client; getsockopt(IPPROTO_IP, 4096) the NAT64 client). Mounts the bpf "
            + "filesystem if needed, attaches to a cgroup, pins under /sys/fs/bpf/toa (so it stays after this command) and "
            + "writes 'TOA: load success' to the kernel log. Needs root. The pin directory must be root's alone: one that "
            + "someone else could write, or one above it, is refused with exit code 1, since whoever can remove the pins "
            + "can detach the receiver.\n\n"
            + "Example: toa load --trust 10.0.0.0/8")
        {
            Force,
        }.WithLoadOptions();
        command.SetAction(parse =>
        {
            Privileges.RequireRoot("load");
            var output = parse.InvocationConfiguration.Output;
            var options = ReceiverLoadOptions.From(parse);
            using var logging = Logging.Create(parse.InvocationConfiguration.Error, parse.GetValue(CommonOptions.Verbose));
            ReceiverLoadOutcome outcome;
            try
            {
                outcome = ToaReceiver.Load(options, parse.GetValue(Force), logging.CreateLogger("load"));
            }
            catch (Exception e) when (e is InvalidOperationException or DirectoryNotFoundException or ArgumentException)
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
