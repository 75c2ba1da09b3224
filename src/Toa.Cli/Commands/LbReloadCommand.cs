// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Text.Json;
using Toa.Balancer.Management;
using Toa.Cli.Balancer;
using Toa.Cli.CommandLine;

namespace Toa.Cli.Commands;

/// <summary><c>toa lb reload</c>: have the running balancer read its configuration again.</summary>
internal static class LbReloadCommand
{
    public static Command Create()
    {
        var admin = LbOptions.Admin();
        var tokenFile = LbOptions.TokenFile();
        var json = LbOptions.Json("the result ({\"result\": \"applied|unchanged|refused\", \"reason\": ...})");
        var command = new Command("reload",
            "Have the running balancer read its configuration file again and apply it, and say what came of it: applied, "
            + "unchanged (the file holds the running configuration) or refused (the running one stays; the balancer's log names "
            + "every problem). It asks the balancer that owns the admin socket, so it never signals the wrong process; a unit's "
            + "ExecReload runs it. Exit code 1 when refused or the balancer cannot be reached.\n\n"
            + "Examples:\n  toa lb reload\n  toa lb reload --json\n  toa lb reload --admin /run/toa/edge.sock")
        {
            admin, tokenFile, json,
        };
        command.SetAction(async (parse, cancel) =>
        {
            using var client = LbOptions.Client(parse, admin, tokenFile);
            var result = await LbOptions.AskAsync(client.ReloadAsync(cancel));
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                output.WriteLine(JsonSerializer.Serialize(result, LbJsonContext.Default.AdminReloadResult));
            else
                output.WriteLine(result.Reason is null ? result.Result : $"{result.Result}: {result.Reason}");
            return (int)(result.Result == AdminReloadResult.Refused ? ReturnCode.Failure : ReturnCode.Ok);
        });
        return command;
    }
}
