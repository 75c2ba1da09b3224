// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Cli.Metrics;
using Toa.Receiver;
using Toa.Testing;

namespace Toa.Cli.Tests.Metrics;

public class ReceiverMetricsTests
{
    private static ReceiverCounters Counters() => new(
    [
        new ToaCounter("syn_recv_sock_toa", [3, 12345678901]),
        new ToaCounter("getname_toa_mismatch", [0, 0]),
        new ToaCounter("toa_from_a_newer_receiver", [1, 1]),
    ]);

    private static async Task<string> ScrapeAsync(ReceiverCounters? counters)
    {
        using var text = new MemoryStream();
        await ReceiverMetrics.WriteAsync(counters, text, CancellationToken.None);
        return System.Text.Encoding.UTF8.GetString(text.ToArray());
    }

    /// <summary>The receiver's samples (the exporter's own build and process metrics follow them).</summary>
    private static string[] Samples(string exposition) =>
        exposition.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("toa_receiver_", StringComparison.Ordinal)).ToArray();

    [Fact]
    public async Task Write_Loaded_PromtoolAcceptsItWithoutComplaint()
    {
        var (code, output) = await Promtool.CheckMetricsAsync(await ScrapeAsync(Counters()));

        Assert.True(code == 0 && output.Trim().Length == 0, $"promtool check metrics: exit {code}: {output}");
    }

    [Fact]
    public async Task Write_Loaded_CountersSummedOverCpusWithTheirHelp()
    {
        var text = await ScrapeAsync(Counters());

        Assert.Equal(
        [
            "toa_receiver_loaded 1",
            "toa_receiver_syn_recv_sock_toa_total 12345678904",
            "toa_receiver_getname_toa_mismatch_total 0",
            "toa_receiver_toa_from_a_newer_receiver_total 2",
        ], Samples(text));
        Assert.Contains("# HELP toa_receiver_syn_recv_sock_toa_total Connections whose handshake (SYN or ACK) carried a TOA. Summed over CPUs.", text);
        Assert.Contains("# TYPE toa_receiver_syn_recv_sock_toa_total counter", text);
        Assert.Contains("# TYPE toa_receiver_loaded gauge", text);
    }

    [Fact]
    public async Task Write_NotLoaded_OnlyTheLoadedGaugeAtZero()
    {
        var text = await ScrapeAsync(null);

        Assert.Equal(["toa_receiver_loaded 0"], Samples(text));
        Assert.Equal(0, (await Promtool.CheckMetricsAsync(text)).ExitCode);
    }

    [Fact]
    public async Task Write_Any_BuildInfoAndTheExportersOwnDescriptorsMemoryAndCpu()
    {
        var text = await ScrapeAsync(null);

        Assert.Contains($"toa_build_info{{version=\"{Toa.Balancer.Metrics.ProcessMetrics.Version}\",", text);
        foreach (var name in new[] { "process_open_handles", "process_working_set_bytes", "process_cpu_seconds_total", "process_start_time_seconds" })
            Assert.Contains($"# HELP {name} ", text);
    }

    [Fact]
    public async Task Write_CountersRestartedAtZero_ScrapeShowsTheLowerValue()
    {
        await ScrapeAsync(Counters());

        var text = await ScrapeAsync(new ReceiverCounters([new ToaCounter("syn_recv_sock_toa", [1, 0])]));

        Assert.Contains("toa_receiver_syn_recv_sock_toa_total 1", Samples(text));
    }

    [Fact]
    public async Task Endpoint_OverHttp_MetricsInTheTextFormatAndNotFoundElsewhere()
    {
        var port = FreePort();
        var endpoint = new MetricsEndpoint(new IPEndPoint(IPAddress.Loopback, port), Counters, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var started = new TaskCompletionSource();
        var serving = endpoint.ServeAsync(started.SetResult, stop.Token);
        await started.Task;
        using var http = new HttpClient();

        using var metrics = await http.GetAsync(endpoint.Url);
        using var other = await http.GetAsync($"http://127.0.0.1:{port}/other");
        await stop.CancelAsync();
        await serving;

        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", metrics.Content.Headers.ContentType?.ToString());
        Assert.Contains("toa_receiver_syn_recv_sock_toa_total 12345678904", Samples(await metrics.Content.ReadAsStringAsync()));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
