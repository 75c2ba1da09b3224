// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Cli.CommandLine;
using Toa.Cli.Demo;

namespace Toa.Cli.Commands;

/// <summary><c>toa demo</c>: the whole story, end to end, in network namespaces of its own.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var command = new Command("demo",
            "Show TOA end to end on this machine: builds hosts as network namespaces joined by veth links "
            + "(private addresses that exist only inside them), sends connections carrying TOA with 'toa connect', "
            + "and shows what the receiving side's tcpdump sees, decoded; then loads the receiver and shows a C server printing the real clients. Removes everything when done. Needs root.");
        command.SetAction(async (parse, cancel) =>
        {
            Privileges.RequireRoot("demo");
            await new DemoScript(parse.InvocationConfiguration.Output).RunAsync(cancel);
            return (int)ReturnCode.Ok;
        });
        return command;
    }
}
