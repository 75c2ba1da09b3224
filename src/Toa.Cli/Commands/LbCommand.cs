// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Toa.Balancer;
using Toa.Balancer.Configuration;
using Toa.Balancer.Management;
using Toa.Balancer.Packet;
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
        + "It is read again when it changes, on SIGHUP and on toa lb reload; an invalid new version is logged and the running one stays.");

    private static readonly Option<string?> User = new("--user")
    {
        Description = "Once listening and the TOA writer are set up, run on as this user (and its groups), giving up root and every "
            + "capability: a bug in the relay then cannot act as root. What it holds keeps working; what a later reload would open "
            + "anew with root's rights (a port below 1024, TOA on a balancer started without it) is refused then and logged. "
            + "Ignored when not started as root (as under a unit's User=). Example: --user toa",
        HelpName = "NAME",
    };

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
            + "(logged, the running configuration stays) when it cannot. Listeners with \"engine\": \"packet\" need root too: "
            + "their eBPF datapath is attached to the interfaces (tc) and its maps pinned under /sys/fs/bpf/toa/fullnat; "
            + "stopping gracefully ends their connections, while a restart after a kill takes them over. "
            + "Root may be CAP_BPF and CAP_NET_ADMIN instead. "
            + "Commands (drain, disable, enable, reload) go to its admin socket (default /run/toa/lb.sock, mode 0660, group toa "
            + "when it exists); GET /metrics and /status are also on TCP 127.0.0.1:9180. Logs go to stderr.\n\n"
            + "Examples:\n"
            + "  toa lb --config /etc/toa/lb.json\n"
            + "  toa lb --config lb.json --threads 2 --user toa\n"
            + "  toa lb check --config lb.json          # validate only\n"
            + "  toa lb status                          # listeners, backends, connections\n"
            + "  toa lb drain 10.1.0.11:8080            # no new connections to it; established ones go on\n"
            + "  toa lb reload                          # read the configuration again (what the unit's ExecReload runs)")
        {
            Config,
            Threads,
            User,
            LbCheckCommand.Create(),
            LbStatusCommand.Create(),
            LbBackendCommand.Drain(),
            LbBackendCommand.Disable(),
            LbBackendCommand.Enable(),
            LbReloadCommand.Create(),
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
        using var logging = Logging.Create(error, parse.GetValue(CommonOptions.Verbose), LogLevel.Information);
        var log = logging.CreateLogger("lb");
        FileConfigProvider provider;
        try
        {
            provider = new FileConfigProvider(path, logging.CreateLogger("Toa.Balancer.Configuration"));
        }
        catch (BalancerConfigException e)
        {
            return LbOptions.WriteProblems(e, error);
        }
        using var _ = provider;
        var config = provider.Snapshot.Config;
        // Started by the host before the first configuration with a TOA listener runs: now, or at a reload.
        var writer = SenderToaWriter.Deferred(logging);
        // Idle until the host prepares it for the first packet listener; stopping gracefully takes its listeners down.
        var packetEngine = new FullnatEngine(logging, TimeProvider.System);
        if (SenderToaWriter.IsNeededFor(config) || (config.Listeners ?? []).Any(EngineNames.IsPacket))
            Privileges.RequireRoot("lb");

        var user = parse.GetValue(User);
        BalancerHost? running = null;
        using var interruption = Interruption.Listen(CancellationToken.None,
            stopping: signal => log.LogInformation(
                "{Signal}: stopping; established connections get up to shutdownTimeout to finish (send it again to stop at once)", signal),
            hangup: () => Reload(Volatile.Read(ref running), log));
        void Started(BalancerHost host)
        {
            Volatile.Write(ref running, host);
            if (user is not null)
                GiveUpRoot(user, log);
            SystemdNotify.Ready();
        }
        try
        {
            BalancerHost.RunAsync(provider, writer, interruption.Token, logging, parse.GetValue(Threads), Started, packetEngine).GetAwaiter().GetResult();
        }
        catch (SocketException e)
        {
            throw new CliException($"cannot listen on a listener's address: {e.Message}");
        }
        catch (PacketEngineException e)
        {
            throw new CliException(e.Message);
        }
        catch (IOException e)
        {
            throw new CliException($"the admin endpoint: {e.Message}");
        }
        finally
        {
            packetEngine.DisposeAsync().AsTask().GetAwaiter().GetResult();
            DisposeWriter(writer, log);
        }
        log.LogInformation("stopped");
        return (int)ReturnCode.Ok;
    }

    /// <summary>SIGHUP: the same reload as toa lb reload (the host logs what came of it).</summary>
    private static void Reload(BalancerHost? host, ILogger log)
    {
        if (host is null)
            return; // still starting: the configuration being applied is the file's
        try
        {
            host.ReloadAsync().GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            log.LogError(e, "SIGHUP: the reload failed");
        }
    }

    private static void GiveUpRoot(string user, ILogger log)
    {
        if (!Privileges.IsRoot)
        {
            log.LogInformation("--user {User}: not started as root, so running on as {Current}", user, Environment.UserName);
            return;
        }
        try
        {
            Accounts.BecomeUser(user);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new CliException($"--user {user}: {e.Message}");
        }
        log.LogInformation("Running on as user {User}, without root or capabilities", user);
    }

    /// <summary>Removes the TOA writer; after --user its cgroup may be beyond reach, and the next start removes it.</summary>
    private static void DisposeWriter(SenderToaWriter writer, ILogger log)
    {
        try
        {
            writer.Dispose();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.LogWarning("The TOA writer's cgroup is left for the next start to remove: {Reason}", e.Message);
        }
    }
}
