// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Text.Json;
using Toa.Balancer.Management;
using Toa.Cli.Balancer;
using Toa.Cli.CommandLine;

namespace Toa.Cli.Commands;

/// <summary><c>toa lb status</c>: a running balancer's listeners and backends.</summary>
internal static class LbStatusCommand
{
    private static readonly Option<string?> Admin = LbOptions.Admin();

    private static readonly Option<bool> Json = LbOptions.Json("the status (the admin endpoint's GET /status)");

    public static Command Create()
    {
        var command = new Command("status",
            "Show a running balancer's listeners and backends: one row per backend with its listener, address, engine "
            + "(proxy or packet), TOA, scheduler, weight, state (healthy, unhealthy, draining, disabled), connections open now, "
            + "connections since it joined and its limit (a packet listener's connections are those its engine tracks); then the "
            + "connections open over the proxy listeners and, when a listener uses it, those the packet engine tracks. Asks the admin endpoint (its socket by "
            + "default; group toa may use it); needs no root. "
            + "Exit code 1 when the balancer cannot be reached.\n\n"
            + "Examples:\n"
            + "  toa lb status\n"
            + "  toa lb status --admin 127.0.0.1:9180 --json")
        {
            Admin, Json,
        };
        command.SetAction(async (parse, cancel) =>
        {
            using var client = LbOptions.Client(parse, Admin);
            var status = await LbOptions.AskAsync(client.GetStatusAsync(cancel));
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(Json))
                output.WriteLine(JsonSerializer.Serialize(status, LbJsonContext.Default.BalancerStatus));
            else
                StatusTable.Write(status, output);
            return (int)ReturnCode.Ok;
        });
        return command;
    }
}
