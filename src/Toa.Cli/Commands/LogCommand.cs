// SPDX-License-Identifier: MIT
using System.CommandLine;
using Microsoft.Extensions.Logging;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;
using Toa.Receiver;
using Toa.Sockets;
using Toa.Wire;

namespace Toa.Cli.Commands;

/// <summary>
/// <c>toa log</c>: the per-connection lines a DEBUG build of toa.ko wrote to the kernel
/// log, switched on and off at run time instead of rebuilt, read from a ring buffer.
/// </summary>
internal static class LogCommand
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private static readonly Option<bool> Follow = new("--follow", "-f")
    {
        Description = "Keep printing events as they arrive, until Ctrl+C (as dmesg -w and journalctl -f do).",
    };

    private static readonly Option<bool> Enable = new("--enable")
    {
        Description = "Switch tracing on: from now on the receiver sends an event for each connection's SYN with a TOA, "
            + "handshake ACK and first data. It stays on, read or not, until --disable or unload.",
    };

    private static readonly Option<bool> Disable = new("--disable")
    {
        Description = "Switch tracing off: the receiver checks one flag per packet and does nothing more.",
    };

    private static readonly Option<bool> Json = new("--json")
    {
        Description = "Print one JSON object per line (time, local, peer, packet, outcome, and for outcomes that read a TOA "
            + "kind, length, layout, client) instead of text.",
    };

    private static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    public static Command Create()
    {
        var command = new Command("log",
            "Print the receiver's trace: for each connection, the packet that carried its TOA (SYN, handshake ACK or first "
            + "data) with the kind/length and the address, or why nothing was taken (absent, malformed, untrusted peer, "
            + "layout not honoured). Tracing is switched on and off at run time, without reloading; off, it costs one "
            + "check of a flag per packet. Without --follow, prints the events waiting and exits. One reader at a time. "
            + "Needs root.\n\n"
            + "Example: toa log --enable --follow\n"
            + "Example: toa log --disable")
        {
            Follow, Enable, Disable, Json, PinDir,
        };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancel)
    {
        var output = parse.InvocationConfiguration.Output;
        using var logging = Logging.For(parse);
        var log = logging.CreateLogger(Logging.Category);
        bool enable = parse.GetValue(Enable), disable = parse.GetValue(Disable), follow = parse.GetValue(Follow);
        if (enable && disable)
            throw new CliException("--enable and --disable: choose one", ReturnCode.UsageError);
        if (disable && follow)
            throw new CliException("--disable with --follow: no events would come", ReturnCode.UsageError);
        Privileges.RequireRoot("log");
        var pins = ReceiverCommandOptions.PinDirOf(parse, PinDir);
        if (!ToaReceiver.IsLoaded(pins))
            throw new CliException($"TOA is not loaded (nothing pinned at {pins})");
        try
        {
            if (enable || disable)
            {
                Switch(pins, enable, output);
                if (!follow)
                    return (int)ReturnCode.Ok;
            }
            var json = parse.GetValue(Json);
            using var reader = ReceiverTrace.OpenReader(pins, e => output.WriteLine(json ? FormatJson(e) : FormatText(e)));
            if (!ReceiverTrace.IsEnabled(pins))
                CliLog.TracingOff(log);
            if (!follow)
            {
                reader.Drain();
                return (int)ReturnCode.Ok;
            }
            // Interruption also keeps a SIGHUP (a closed terminal) from killing the follow.
            using var interruption = Interruption.Listen(cancel);
            await Task.Run(() => FollowLoop(reader, pins, log, interruption.Token), CancellationToken.None);
        }
        catch (InvalidOperationException e)
        {
            throw new CliException(e.Message);
        }
        return (int)ReturnCode.Ok;
    }

    private static void Switch(string pins, bool enable, TextWriter output)
    {
        var was = ReceiverTrace.SetEnabled(pins, enable);
        var state = enable ? "on" : "off";
        output.WriteLine(was == enable
            ? $"TOA: tracing is already {state}"
            : $"TOA: tracing {state}" + (enable ? " (toa log -f prints the events; toa log --disable switches it off)" : ""));
        if (was != enable)
            KernelLog.Write($"tracing {state} (pins under {pins})");
    }

    private static void FollowLoop(TraceReader reader, string pins, ILogger log, CancellationToken cancel)
    {
        var lost = ReceiverTrace.Lost(pins);
        while (!cancel.IsCancellationRequested)
        {
            // The receiver wakes readers only once a batch waits: what came since is read on the timer.
            reader.Poll(PollInterval);
            reader.Drain();
            var now = ReceiverTrace.Lost(pins);
            if (now != lost)
                CliLog.TraceEventsLost(log, now - lost);
            lost = now;
        }
    }

    /// <summary>"12:34:56.789012  10.0.0.2:40000 > 10.0.0.1:8000  ack   taken       200/8 client 203.0.113.7:4321".</summary>
    internal static string FormatText(TraceEvent e) => string.Create(CultureInfo.InvariantCulture,
        $"{e.Time.ToLocalTime():HH:mm:ss.ffffff}  {EndPointText.Format(e.Peer)} > {EndPointText.Format(e.Local)}  "
        + $"{PacketName(e.Packet),-4}  {OutcomeName(e.Outcome),-10}  {Explain(e)}");

    /// <summary>One line of JSON; the TOA's fields only for outcomes that read one.</summary>
    internal static string FormatJson(TraceEvent e)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", e.Time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture));
            json.WriteString("local", EndPointText.Format(e.Local));
            json.WriteString("peer", EndPointText.Format(e.Peer));
            json.WriteString("packet", PacketName(e.Packet));
            json.WriteString("outcome", OutcomeName(e.Outcome));
            if (e.Layout is { } layout && e.Client is { } client)
            {
                json.WriteNumber("kind", layout.Kind());
                json.WriteNumber("length", layout.Length());
                json.WriteString("format", layout.Format().Name());
                json.WriteString("client", EndPointText.Format(client));
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string PacketName(ToaSource packet) => packet switch
    {
        ToaSource.Syn => "syn",
        ToaSource.Ack => "ack",
        _ => "data",
    };

    private static string OutcomeName(TraceOutcome outcome) => outcome switch
    {
        TraceOutcome.Taken => "taken",
        TraceOutcome.Parked => "parked",
        TraceOutcome.Absent => "absent",
        TraceOutcome.Malformed => "malformed",
        TraceOutcome.Untrusted => "untrusted",
        TraceOutcome.ForeignNetns => "foreign-netns",
        _ => "unhonoured",
    };

    private static string Explain(TraceEvent e)
    {
        var toa = e.Layout is { } layout && e.Client is { } client
            ? $"{layout.Describe()} ({layout.Format().Name()}) client {EndPointText.Format(client)}"
            : "";
        return e.Outcome switch
        {
            TraceOutcome.Taken => toa,
            TraceOutcome.Parked => $"{toa}, kept until the handshake completes",
            TraceOutcome.Absent when e.Packet == ToaSource.Ack => "no TOA in the handshake: waiting for the first data",
            TraceOutcome.Absent => "no TOA in the first data either: the connection keeps its peer",
            TraceOutcome.Malformed => "a broken option or a second TOA: nothing used",
            TraceOutcome.Untrusted => $"{toa} ignored: the peer is outside the trust list (toa load --trust)",
            TraceOutcome.ForeignNetns => $"{toa} ignored: the server's network namespace is not honoured (toa load --netns)",
            _ => $"{toa} ignored: a layout not honoured (toa load --formats)",
        };
    }
}
