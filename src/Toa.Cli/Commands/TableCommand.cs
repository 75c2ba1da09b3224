// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Net.Sockets;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;
using Toa.Receiver;
using Toa.Wire;

namespace Toa.Cli.Commands;

/// <summary><c>toa table</c>: <c>cat /proc/net/toa_table</c>, for both families.</summary>
internal static class TableCommand
{
    private static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    public static Command Create()
    {
        var command = new Command("table",
            "List the connections of this network namespace that hold a TOA: the real client's family, the local address, "
            + "the peer the kernel sees (SNAT or load balancer), the real client, the layout, the packet it came in "
            + "(ack, syn, data) and its age. Read through sock_diag: the data path does no extra work. Needs root.\n\n"
            + "Example: toa table")
        {
            PinDir,
        };
        command.SetAction(parse =>
        {
            Privileges.RequireRoot("table");
            var pins = ReceiverCommandOptions.PinDirOf(parse, PinDir);
            if (!ToaReceiver.IsLoaded(pins))
                throw new CliException($"TOA is not loaded (nothing pinned at {pins})");
            var output = parse.InvocationConfiguration.Output;
            var rows = ToaReceiver.ReadTable(pins)
                .OrderBy(c => c.Age)
                .Select(c => new[]
                {
                    c.Layout.Family() == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4",
                    EndPointText.Format(c.Local), EndPointText.Format(c.Peer), EndPointText.Format(c.Client),
                    c.Layout.Describe(), c.Source.ToString().ToLowerInvariant(), DurationText.Format(c.Age),
                })
                .Prepend(["family", "local", "snat peer", "real client", "format", "from", "age"])
                .ToArray();
            var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
            foreach (var row in rows)
                output.WriteLine(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
            return (int)ReturnCode.Ok;
        });
        return command;
    }
}
