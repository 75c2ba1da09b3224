// SPDX-License-Identifier: MIT
using System.CommandLine;
using SharpPcap;
using Toa.Cli.Capture;
using Toa.Cli.CommandLine;
using Toa.Diagnostics.Capture;
using Toa.Wire;

namespace Toa.Cli.Commands;

/// <summary>
/// <c>toa capture</c>: what <c>tcpdump</c> shows as <c>unknown-200</c>, decoded: every TOA in a
/// capture file or on an interface, in every format.
/// </summary>
internal static class CaptureCommand
{
    private static readonly Option<string?> Read = new("--read", "-r")
    {
        Description = "Decode a capture file: pcap or pcapng, as tcpdump -w or Wireshark write them.",
        HelpName = "FILE",
    };

    private static readonly Option<string?> Interface = new("--interface", "-i")
    {
        Description = "Capture live on this network interface, e.g. eth0 (needs root), until Ctrl+C, --seconds or --count.",
        HelpName = "IFACE",
    };

    private static readonly Option<int?> Seconds = new("--seconds")
    {
        Description = "With --interface: stop after this many seconds. Default: until Ctrl+C.",
        HelpName = "N",
        Validators = { r => Positive(r, "--seconds") },
    };

    private static readonly Option<int?> Count = new("--count", "-c")
    {
        Description = "Stop after this many segments carrying a TOA. Default: no limit.",
        HelpName = "N",
        Validators = { r => Positive(r, "--count") },
    };

    private static readonly Option<string?> Filter = new("--filter")
    {
        Description = "A capture filter in tcpdump's syntax, narrowing which TCP segments are looked at, "
            + "e.g. \"tcp port 8000\". Default: every TCP segment.",
        HelpName = "EXPRESSION",
    };

    private static readonly Option<bool> Json = new("--json")
    {
        Description = "One JSON object per segment and line instead: {\"time\", \"source\", \"destination\", \"flags\", \"payload\", "
            + "\"toa\": [{\"kind\", \"length\", \"format\", \"client\"} or {\"kind\", \"length\", \"problem\"}]}.",
    };

    public static Command Create()
    {
        var command = new Command("capture",
            "Decode TOA options from captured TCP segments: one line per segment that carries one (time, source > destination, "
            + "TCP flags as tcpdump prints them, kind/length, format, client address), in every format: tencent (200/8, "
            + "253/20), dpvs (254/8, 254/20), alibaba-cdn (28/7, 28/19), ucloud (253/8). A TOA kind at a length no format "
            + "uses is shown as malformed. A count of segments read goes to stderr at the end.\n\n"
            + "Examples:\n  tcpdump -i eth0 -w lb.pcap 'tcp port 80'; toa capture --read lb.pcap\n"
            + "  toa capture --interface eth0 --seconds 10 --filter 'tcp port 80'")
        {
            Read, Interface, Seconds, Count, Filter, Json,
        };
        command.Validators.Add(r =>
        {
            var file = r.GetResult(Read) is not null;
            var live = r.GetResult(Interface) is not null;
            if (file == live)
                r.AddError("name a capture file (--read FILE) or an interface (--interface IFACE), one of the two");
            else if (file && r.GetResult(Seconds) is not null)
                r.AddError("--seconds needs --interface: a file is read to its end");
        });
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancel)
    {
        var output = parse.InvocationConfiguration.Output;
        Func<TcpSegment, string> print = parse.GetValue(Json) ? SegmentText.Json : SegmentText.Line;
        var limit = parse.GetValue(Count) ?? int.MaxValue;
        var filter = parse.GetValue(Filter);
        var (seen, shown) = (0, 0);
        using var interruption = Interruption.Listen(cancel);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(interruption.Token);
        if (parse.GetValue(Seconds) is { } seconds)
            stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        try
        {
            await foreach (var segment in Segments(parse.GetValue(Read), parse.GetValue(Interface), filter, stop.Token))
            {
                seen++;
                if (!SegmentText.ToaOptions(segment).Any())
                    continue;
                await output.WriteLineAsync(print(segment));
                if (++shown == limit)
                    break;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Ctrl+C or --seconds: the end of a live capture, not a failure.
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ArgumentException)
        {
            throw new CliException(e.Message, ReturnCode.UsageError);
        }
        catch (PcapException e)
        {
            throw new CliException(filter is null ? $"capture: {e.Message}" : $"--filter '{filter}': {e.Message}", ReturnCode.UsageError);
        }
        await output.FlushAsync(CancellationToken.None);
        await parse.InvocationConfiguration.Error.WriteLineAsync($"{seen} TCP segments read, {shown} shown carrying a TOA");
        return (int)ReturnCode.Ok;
    }

    /// <summary>The file's segments, or the interface's; a missing file or interface surfaces when they are first asked for.</summary>
    private static IAsyncEnumerable<TcpSegment> Segments(string? file, string? interfaceName, string? filter, CancellationToken cancel)
    {
        if (file is not null)
            return PacketSource.ReadFile(file, ToaLayouts.All, filter).ToAsyncEnumerable();
        Privileges.RequireRoot("capture --interface");
        return PacketSource.Live(interfaceName!, ToaLayouts.All, filter ?? "tcp", cancel);
    }

    private static void Positive(System.CommandLine.Parsing.OptionResult result, string name)
    {
        if (result.GetValueOrDefault<int?>() is <= 0)
            result.AddError($"{name} must be a positive number");
    }
}
