// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Net.Sockets;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;
using Toa.Cli.Stats;
using Toa.Receiver;
using Toa.Sockets;
using Toa.Wire;

namespace Toa.Cli.Commands;

/// <summary><c>toa table</c>: <c>cat /proc/net/toa_table</c>, for both families.</summary>
internal static class TableCommand
{
    private static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    private static readonly Option<bool> Json = CommonOptions.Json(
        "{\"connections\": [{\"family\": \"IPv4\"|\"IPv6\", \"local\", \"peer\", \"client\", \"format\", \"from\": "
        + "\"ack\"|\"syn\"|\"data\", \"age_seconds\"}]}, youngest first");

    public static Command Create()
    {
        var command = new Command("table",
            "List the connections of this network namespace that hold a TOA: the real client's family, the local address, "
            + "the peer the kernel sees (SNAT or load balancer), the real client, the layout, the packet it came in "
            + "(ack, syn, data) and its age. Read through sock_diag: the data path does no extra work. Needs root.\n\n"
            + "Example: toa table")
        {
            PinDir,
            Json,
        };
        command.SetAction(parse =>
        {
            Privileges.RequireRoot("table");
            var pins = ReceiverCommandOptions.PinDirOf(parse, PinDir);
            if (!ToaReceiver.IsLoaded(pins))
                throw new CliException($"TOA is not loaded (nothing pinned at {pins})");
            var output = parse.InvocationConfiguration.Output;
            var connections = ToaReceiver.ReadTable(pins).OrderBy(c => c.Age).ToList();
            if (parse.GetValue(Json))
            {
                output.WriteLine(StatsJson.Write(json =>
                {
                    json.WriteStartArray("connections");
                    foreach (var c in connections)
                    {
                        json.WriteStartObject();
                        json.WriteString("family", Family(c));
                        json.WriteString("local", EndPointText.Format(c.Local));
                        json.WriteString("peer", EndPointText.Format(c.Peer));
                        json.WriteString("client", EndPointText.Format(c.Client));
                        json.WriteString("format", c.Layout.Describe());
                        json.WriteString("from", From(c));
                        json.WriteNumber("age_seconds", c.Age.TotalSeconds);
                        json.WriteEndObject();
                    }
                    json.WriteEndArray();
                }));
                return (int)ReturnCode.Ok;
            }
            var rows = connections
                .Select(c => new[]
                {
                    Family(c), EndPointText.Format(c.Local), EndPointText.Format(c.Peer), EndPointText.Format(c.Client),
                    c.Layout.Describe(), From(c), DurationText.Format(c.Age),
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

    private static string Family(ToaConnection c) => c.Layout.Family() == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    private static string From(ToaConnection c) => c.Source.ToString().ToLowerInvariant();
}
