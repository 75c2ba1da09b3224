// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Text.Json;
using Toa.Balancer.Configuration;
using Toa.Balancer.Management;
using Toa.Cli.Balancer;
using Toa.Cli.CommandLine;

namespace Toa.Cli.Commands;

/// <summary><c>toa lb drain|disable|enable BACKEND</c>: change a backend's admin state in a running balancer.</summary>
internal static class LbBackendCommand
{
    private delegate Task<AdminCommandResult> AdminCall(BalancerAdminClient client, string backend, CancellationToken cancel);

    public static Command Drain() => Create("drain", "draining",
        "Drain a backend: it gets no new connections, its established ones go on, health checks continue. "
        + "It lasts until toa lb enable or a restart; a reload keeps it.",
        (c, b, t) => c.DrainAsync(b, t));

    public static Command Disable() => Create("disable", "disabled",
        "Disable a backend: it gets no new connections, its established ones are reset, health checks pause. "
        + "It lasts until toa lb enable or a restart; a reload keeps it.",
        (c, b, t) => c.DisableAsync(b, t));

    public static Command Enable() => Create("enable", "enabled",
        "Enable a drained or disabled backend again: it takes new connections whenever it is healthy.",
        (c, b, t) => c.EnableAsync(b, t));

    private static Command Create(string name, string done, string what, AdminCall call)
    {
        var backend = new Argument<string>("BACKEND")
        {
            Description = "The backend as its configuration writes it, ADDRESS:PORT (in every listener that has it) or "
                + "LISTENER/ADDRESS:PORT (in that listener only), e.g. 10.1.0.11:8080, [fd00::21]:8443 or web/10.1.0.11:8080.",
            Validators = { r => Check(r.Tokens[0].Value, r) },
        };
        var admin = LbOptions.Admin();
        var tokenFile = LbOptions.TokenFile();
        var json = LbOptions.Json("the backends matched ({\"backends\": [\"LISTENER/ADDRESS\", ...]})");
        var command = new Command(name,
            $"{what} Prints each backend matched as LISTENER/ADDRESS; "
            + "exit code 1 when none matches or the balancer cannot be reached. Asks the admin endpoint through its Unix socket "
            + "(root and group toa may use it), or over TCP with the admin token; needs no root.\n\n"
            + $"Examples:\n  toa lb {name} 10.1.0.11:8080\n  toa lb {name} web/10.1.0.11:8080 --json\n"
            + $"  toa lb {name} 10.1.0.11:8080 --admin 127.0.0.1:9180 --token-file /etc/toa/admin.token")
        {
            backend, admin, tokenFile, json,
        };
        command.SetAction(async (parse, cancel) =>
        {
            using var client = LbOptions.Client(parse, admin, tokenFile);
            var result = await LbOptions.AskAsync(call(client, parse.GetValue(backend)!, cancel));
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                output.WriteLine(JsonSerializer.Serialize(result, LbJsonContext.Default.AdminCommandResult));
            else
            {
                foreach (var matched in result.Backends)
                    output.WriteLine($"{matched}: {done}");
            }
            return (int)ReturnCode.Ok;
        });
        return command;
    }

    private static void Check(string text, System.CommandLine.Parsing.ArgumentResult result)
    {
        var slash = text.LastIndexOf('/');
        if (slash == 0 || !Endpoints.TryParse(text[(slash + 1)..], out _))
            result.AddError($"'{text}' is not a backend: write ADDRESS:PORT or LISTENER/ADDRESS:PORT, e.g. 10.1.0.11:8080 or web/[fd00::21]:8443");
    }
}
