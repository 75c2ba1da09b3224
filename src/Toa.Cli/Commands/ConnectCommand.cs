// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Toa.Cli.CommandLine;
using Toa.Sender;
using Toa.Wire;

namespace Toa.Cli.Commands;

/// <summary>
/// <c>toa connect</c>: a TCP connection that carries a chosen TOA, copying stdin to
/// the socket and the socket to stdout, like nc.
/// </summary>
internal static class ConnectCommand
{
    private static readonly Argument<string> Target = new("HOST:PORT")
    {
        Description = "The server: an address or host name and a port, e.g. 10.0.0.2:8000, [fd00::2]:8000 or localhost:8000.",
        Validators = { r => Check(r, r.Tokens[0].Value, allowNames: true) },
    };

    private static readonly Option<IPEndPoint[]> As = new("--as")
    {
        Description = "The client address the TOA claims, ADDRESS:PORT or [IPv6]:PORT, e.g. 203.0.113.7:4321. "
            + "Repeat it to send several options at once (an IPv4 and an IPv6 client, say).",
        Required = true,
        HelpName = "CLIENT:PORT",
        CustomParser = ParseClients,
    };

    private static readonly Option<ToaFormat?> Format = new("--format", "-f")
    {
        Description = "Whose layout to write: tencent (IPv4 client 200/8, IPv6 client 253/20), dpvs (254/8, 254/20), "
            + "alibaba-cdn (28/7, 28/19; no port), ucloud (253/8; IPv4 only). Default: tencent.",
        HelpName = "tencent|dpvs|alibaba-cdn|ucloud",
        CustomParser = r => ToaLayoutInfo.TryParseFormat(r.Tokens[0].Value, out var f) ? f
            : ArgumentErrors.Error<ToaFormat?>(r, $"unknown format '{r.Tokens[0].Value}': use tencent, dpvs, alibaba-cdn or ucloud"),
    };

    private static readonly Option<ToaPlacement?> In = new("--in")
    {
        Description = "Which packets carry the TOA, comma-separated: syn, ack (the ACK completing the handshake), "
            + "data (segments until the server acknowledges data). Default: ack,data.",
        HelpName = "PACKETS",
        CustomParser = r => ToaPlacementNames.TryParse(r.Tokens[0].Value, out var p, out var bad) ? p
            : ArgumentErrors.Error<ToaPlacement?>(r, $"unknown packet '{bad}' in --in: use syn, ack and data, comma-separated"),
    };

    private static readonly Option<TimeSpan?> Timeout = new("--timeout")
    {
        Description = "How long to wait for the connection to be established: 500ms, 10s, 1m. Default: 10s.",
        HelpName = "DURATION",
        CustomParser = r => DurationText.TryParse(r.Tokens[0].Value, out var d) ? d
            : ArgumentErrors.Error<TimeSpan?>(r, $"'{r.Tokens[0].Value}' is not a duration such as 500ms, 10s or 1m"),
    };

    private static readonly Option<bool> KeepOpen = new("--keep-open")
    {
        Description = "When stdin ends, send no FIN: keep the connection open until the server closes it. For servers "
            + "that take an early FIN as the client leaving and drop their answers (Kestrel does), e.g. "
            + "printf 'GET / HTTP/1.1\\r\\nHost: s\\r\\nConnection: close\\r\\n\\r\\n' | toa connect ... --keep-open",
    };

    public static Command Create()
    {
        var command = new Command("connect",
            "Open a TCP connection whose packets carry a TOA claiming another client, then copy stdin to it and "
            + "it to stdout (like nc) until both directions are done. Needs root: it attaches an eBPF program to a "
            + "cgroup of its own, removed on exit.\n\n"
            + "Example: echo hello | toa connect 10.0.0.2:8000 --as 203.0.113.7:4321")
        {
            Target, As, Format, In, Timeout, KeepOpen,
        };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancel)
    {
        var error = parse.InvocationConfiguration.Error;
        var output = parse.InvocationConfiguration.Output;
        using var logging = Logging.Create(error, parse.GetValue(CommonOptions.Verbose));
        var log = logging.CreateLogger("connect");
        EndPointText.TryParse(parse.GetValue(Target)!, allowNames: true, out var host, out var port, out _);
        var options = BuildOptions(parse.GetValue(Format) ?? ToaFormat.Tencent, parse.GetValue(As)!);
        var placement = parse.GetValue(In) ?? ToaPlacement.Default;
        var target = await EndPointText.ResolveAsync(host, port, cancel);
        Privileges.RequireRoot("connect");

        using var sender = ToaSender.Start(log);
        using var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // The last report is read once the connection may have closed: the state stays with the socket.
        sender.Attach(socket, options, placement, reportAfterClose: true);
        var failure = await ConnectAsync(socket, target, parse.GetValue(Timeout) ?? TimeSpan.FromSeconds(10), cancel);
        RequireWritten(sender.Report(socket), ToaPlacement.Syn, socket);
        if (failure is not null)
            throw new CliException(failure);
        var what = $"{string.Join(" + ", options.Select(o => $"{o.Layout.Describe()} {EndPointText.Format(o.Client)}"))} in {ToaPlacementNames.Format(placement)}";
        RequireWritten(sender.Report(socket), ToaPlacement.Syn | ToaPlacement.Ack, socket);
        log.LogInformation("connected {Local} -> {Remote}, TOA {What}", socket.LocalEndPoint, target, what);

        var sent = await Pipe.RunAsync(socket, Console.OpenStandardInput(), output, parse.GetValue(KeepOpen), cancel);
        var report = sender.Report(socket);
        RequireWritten(report, sent > 0 ? ToaPlacement.Data : ToaPlacement.None, socket);
        log.LogInformation("{Packets} packets carried the TOA; {Sent} bytes sent", report.Packets, sent);
        return (int)ReturnCode.Ok;
    }

    // Returns why the connection failed, or null; the caller first reports a SYN that had no room.
    private static async Task<string?> ConnectAsync(Socket socket, IPEndPoint target, TimeSpan timeout, CancellationToken cancel)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(target, deadline.Token);
            return null;
        }
        catch (SocketException e)
        {
            return $"connect to {EndPointText.Format(target)}: {e.Message}";
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return $"connect to {EndPointText.Format(target)}: no answer within {DurationText.Format(timeout)}";
        }
    }

    // The option never goes missing silently: a placement that was asked for and is settled must have carried it.
    private static void RequireWritten(ToaSendReport report, ToaPlacement settled, Socket socket)
    {
        var missing = report.Missing(settled);
        if (missing == ToaPlacement.None)
            return;
        socket.LingerState = new LingerOption(true, 0);
        var where = ToaPlacementNames.Format(missing);
        if ((report.Refused & missing) != 0)
            throw new CliException(
                $"no room for {report.OptionBytes} bytes of TOA in the {where}: the connection was reset"
                + (missing.HasFlag(ToaPlacement.Syn) ? " (a SYN with MSS, SACK-permitted, timestamps and window scale has 20 bytes left)" : ""));
        throw new CliException($"the {where} went out without the TOA: the connection was reset");
    }

    // Checked after parsing: option validators cannot see each other's failed values.
    private static ToaAddress[] BuildOptions(ToaFormat format, IPEndPoint[] clients)
    {
        var options = new List<ToaAddress>();
        foreach (var client in clients)
        {
            if (!format.TryLayoutFor(client.AddressFamily, out var layout))
                throw new CliException(
                    $"the {format.Name()} format cannot carry an {(client.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4")} client ({EndPointText.Format(client)})",
                    ReturnCode.UsageError);
            options.Add(new ToaAddress(layout, client));
        }
        var bytes = options.Sum(o => o.Layout.Length());
        if (bytes > 40)
            throw new CliException($"{bytes} bytes of TOA do not fit in the 40 bytes of TCP option space", ReturnCode.UsageError);
        return [.. options];
    }

    private static IPEndPoint[] ParseClients(ArgumentResult result)
    {
        var clients = new List<IPEndPoint>();
        foreach (var token in result.Tokens)
        {
            if (!EndPointText.TryParseEndPoint(token.Value, out var client, out var message))
                return ArgumentErrors.Error<IPEndPoint[]>(result, $"--as: {message}");
            clients.Add(client);
        }
        return [.. clients];
    }

    private static void Check(ArgumentResult result, string text, bool allowNames)
    {
        if (!EndPointText.TryParse(text, allowNames, out _, out _, out var message))
            result.AddError(message);
    }
}
