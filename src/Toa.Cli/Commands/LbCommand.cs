// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Toa.Balancer;
using Toa.Balancer.Configuration;
using Toa.Balancer.Sender;
using Toa.Cli.Balancer;
using Toa.Cli.Boot;
using Toa.Cli.CommandLine;

namespace Toa.Cli.Commands;

/// <summary><c>toa lb</c>: the layer-4 load balancer, and its subcommands.</summary>
internal static class LbCommand
{
    private static readonly Option<string> Config = LbOptions.Config(
        "The balancer's configuration: listeners, their pools of backends, TOA, scheduling, health checks, limits. "
        + "JSON with comments; every field and default is in docs/balancer.md, a complete example in samples/lb.json. "
        + "It is read again when it changes and on SIGHUP; an invalid new version is logged and the running one stays.");

    private static readonly Option<int?> Threads = new("--threads")
    {
        Description = $"Threads that relay connections (event loops); each connection runs on one. Default: one per CPU ({Environment.ProcessorCount} here). "
            + "Fewer leave CPUs to the backends or clients on a shared machine.",
        HelpName = "N",
        CustomParser = r => int.TryParse(r.Tokens[0].Value, out var n) && n is >= 1 and <= 1024 ? n
            : ArgumentErrors.Error<int?>(r, $"--threads: '{r.Tokens[0].Value}' is not a number from 1 to 1024"),
    };

    public static Command Create()
    {
        var command = new Command("lb",
            "Run the layer-4 TCP load balancer until Ctrl+C or SIGTERM: each listener relays clients to a pool of backends, "
            + "and with \"toa\": \"tencent\" or \"dpvs\" the backend connection carries the client's address in a TCP option "
            + "(in the handshake ACK and first data segment; in the SYN too with \"toaOnSyn\"). On Ctrl+C or SIGTERM it stops "
            + "accepting and gives established connections the configuration's shutdownTimeout (default 30s) to finish; "
            + "a second signal stops it at once. An invalid configuration is refused with exit code 2 and every problem, one "
            + "per line. Needs root only when a listener writes TOA (it loads an eBPF program and moves itself into a "
            + "cgroup of its own, removed on exit); a reload that first turns TOA on loads it then, or is refused "
            + "(logged, the running configuration stays) when it cannot. Logs go to stderr.\n\n"
            + "Examples:\n"
            + "  toa lb --config /etc/toa/lb.json\n"
            + "  toa lb --config lb.json --threads 2\n"
            + "  toa lb check --config lb.json          # validate only\n"
            + "  toa lb status                          # listeners, backends, connections\n"
            + "  toa lb drain 10.1.0.11:8080            # no new connections to it; established ones go on")
        {
            Config,
            Threads,
            LbCheckCommand.Create(),
            LbStatusCommand.Create(),
            LbBackendCommand.Drain(),
            LbBackendCommand.Disable(),
            LbBackendCommand.Enable(),
        };
        // Synchronous on purpose: System.CommandLine ends an asynchronous action's process 2 s after
        // SIGINT or SIGTERM, sooner than a graceful shutdown; this command handles both signals itself.
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult parse)
    {
        var path = parse.GetValue(Config)!;
        var error = parse.InvocationConfiguration.Error;
        BalancerConfig config;
        try
        {
            config = BalancerConfigLoader.Load(path);
        }
        catch (BalancerConfigException e)
        {
            return LbOptions.WriteProblems(e, error);
        }
        using var logging = Logging.Create(error, parse.GetValue(CommonOptions.Verbose), LogLevel.Information);
        var log = logging.CreateLogger("lb");
        // Started by the host before the first configuration with a TOA listener runs: now, or at a reload.
        using var writer = SenderToaWriter.Deferred(logging);
        if (SenderToaWriter.IsNeededFor(config))
            Privileges.RequireRoot("lb");

        using var stop = new CancellationTokenSource();
        void OnSignal(PosixSignalContext signal)
        {
            // A second signal takes its default action: the process ends at once.
            if (stop.IsCancellationRequested)
                return;
            signal.Cancel = true;
            log.LogInformation("{Signal}: stopping; established connections get up to shutdownTimeout to finish (send it again to stop at once)", signal.Signal);
            stop.Cancel();
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        try
        {
            BalancerHost.RunAsync(path, writer, stop.Token, logging, parse.GetValue(Threads), _ => SystemdNotify.Ready()).GetAwaiter().GetResult();
        }
        catch (BalancerConfigException e)
        {
            // The file changed between the check above and the start.
            return LbOptions.WriteProblems(e, error);
        }
        catch (SocketException e)
        {
            throw new CliException($"cannot listen on a listener's or the admin endpoint's address: {e.Message}");
        }
        log.LogInformation("stopped");
        return (int)ReturnCode.Ok;
    }
}
