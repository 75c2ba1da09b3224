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
            "Show TOA end to end on this machine, the two cases a TOA load balancer serves: builds four hosts as network "
            + "namespaces joined by veth links (private addresses that exist only inside them): an IPv4 client, an IPv6 client, "
            + "a balancer running 'toa lb' with TOA on, and a server with the receiver loaded ('toa load', for a cgroup of the "
            + "demo's own). Each client connects through the balancer; the C sample server and the ASP.NET Core sample print the "
            + "client they see, and the server's tcpdump shows the options, decoded. Takes a few seconds; removes everything "
            + "when done. Needs root, gcc, socat and curl.\n\n"
            + "Example:\n"
            + "  sudo ./toa demo");
        command.SetAction(async (parse, cancel) =>
        {
            Privileges.RequireRoot("demo");
            await new DemoScript(parse.InvocationConfiguration.Output).RunAsync(cancel);
            return (int)ReturnCode.Ok;
        });
        return command;
    }
}
