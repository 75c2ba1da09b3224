// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Net;
using Toa.Cli.CommandLine;
using Toa.Cli.Metrics;
using Toa.Cli.Receiver;
using Toa.Receiver;

namespace Toa.Cli.Commands;

/// <summary><c>toa metrics</c>: a Prometheus exporter for the receiver's counters.</summary>
internal static class MetricsCommand
{
    private static readonly IPEndPoint DefaultListen = new(IPAddress.Loopback, 9469);

    private static readonly Option<IPEndPoint?> Listen = new("--listen")
    {
        Description = $"Where to serve http://ADDRESS:PORT/metrics: an address and a port, e.g. 127.0.0.1:9469, [::1]:9469, "
            + $"or 0.0.0.0:9469 for every IPv4 address. Default: {EndPointText.Format(DefaultListen)}.",
        HelpName = "ADDRESS:PORT",
        CustomParser = r => EndPointText.TryParseEndPoint(r.Tokens[0].Value, out var endPoint, out var error)
            ? endPoint : ArgumentErrors.Error<IPEndPoint?>(r, $"--listen: {error}"),
    };

    private static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    public static Command Create()
    {
        var command = new Command("metrics",
            "Serve the receiver's counters to Prometheus: toa_receiver_loaded (1 or 0) and one counter per toa stats row, "
            + "named toa_receiver_<row>_total and summed over CPUs, read afresh at each scrape; toa_build_info and the exporter's "
            + "own process_* metrics (descriptors, memory, CPU). Runs until Ctrl+C or SIGTERM; SIGHUP is ignored. The "
            + "README lists the metrics and a scrape configuration.\n\n"
            + "Example: toa metrics --listen 127.0.0.1:9469   (then: curl http://127.0.0.1:9469/metrics)")
        {
            Listen, PinDir,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var pins = ReceiverCommandOptions.PinDirOf(parse, PinDir);
            var listen = parse.GetValue(Listen) ?? DefaultListen;
            // Once before serving, so that a receiver this user cannot read fails now rather than at every scrape.
            Read(pins);
            var output = parse.InvocationConfiguration.Output;
            using var logging = Logging.For(parse);
            var endpoint = new MetricsEndpoint(listen, () => Read(pins), logging.CreateLogger(Logging.Category));
            using var interruption = Interruption.Listen(cancel);
            try
            {
                await endpoint.ServeAsync(() => output.WriteLine(
                    $"Serving the TOA receiver's metrics (pinned at {pins}) on {endpoint.Url}; Ctrl+C stops."), interruption.Token);
            }
            catch (IOException e)
            {
                throw new CliException($"cannot listen on {EndPointText.Format(listen)}: {e.Message}");
            }
            return (int)ReturnCode.Ok;
        });
        return command;
    }

    /// <summary>The counters, or null when no receiver is loaded (toa_receiver_loaded 0).</summary>
    private static ReceiverCounters? Read(string pins)
    {
        try
        {
            return ToaReceiver.IsLoaded(pins) ? ToaReceiver.ReadCounters(pins) : null;
        }
        catch (InvalidOperationException)
        {
            return null; // unloaded between the two calls
        }
    }
}
