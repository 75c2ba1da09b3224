// SPDX-License-Identifier: MIT
using System.Text.Json;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>
/// <c>toa stats --json / --watch</c> and <c>toa metrics</c> against a loaded receiver of the
/// test's own, while toa connect sends a TOA; promtool checks what a scraper gets.
/// </summary>
public sealed class StatsAndMetricsTests : IDisposable
{
    private const int Port = 8000;
    private readonly ReceiverLab _lab = new();

    public void Dispose() => _lab.Dispose();

    private LabProcess StartToa(params string[] args)
    {
        var command = ToaCli.Command([.. args, "--pin-dir", _lab.PinDirectory]);
        return _lab.Server.Start(command[0], command.Skip(1));
    }

    private async Task OneConnectionWithToaAsync()
    {
        var server = await _lab.StartCServerAsync("-n", "1", $"{Port}");
        var sent = await _lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321");
        Assert.True(sent.ExitCode == 0, sent.StandardError);
        await server.WaitForLineAsync(l => l == "closed", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task StatsJson_AfterAConnection_TotalAndPerCpuAddUp()
    {
        await OneConnectionWithToaAsync();

        var result = await _lab.Server.RunToaAsync("", "stats", "--json", "--pin-dir", _lab.PinDirectory);

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.StandardOutput);
        var counter = json.RootElement.GetProperty("counters").GetProperty("syn_recv_sock_toa");
        Assert.Equal(1UL, counter.GetProperty("total").GetUInt64());
        Assert.Equal(1UL, counter.GetProperty("per_cpu").EnumerateArray().Aggregate(0UL, (sum, v) => sum + v.GetUInt64()));
        Assert.Equal(json.RootElement.GetProperty("cpus").GetArrayLength(), counter.GetProperty("per_cpu").GetArrayLength());
    }

    [Fact]
    public async Task StatsWatchJson_ConnectionWhileWatching_ARateThenCtrlCExitsZero()
    {
        await using var watch = StartToa("stats", "--watch", "--json", "--interval", "200ms");
        await watch.WaitForLineAsync(l => l.StartsWith('{'), TimeSpan.FromSeconds(30));

        await OneConnectionWithToaAsync();
        var moved = await watch.WaitForLineAsync(l => Counter(l).GetProperty("total").GetUInt64() == 1, TimeSpan.FromSeconds(30));
        await watch.InterruptAsync(TimeSpan.FromSeconds(30));

        Assert.Contains(watch.Output, l => Counter(l).GetProperty("per_second").GetDouble() > 0);
        Assert.NotNull(moved);
        Assert.Equal(0, (await watch.WaitAsync(TimeSpan.FromSeconds(5))).ExitCode);
    }

    [Fact]
    public async Task StatsWatch_Redirected_PlainRowsEachInterval()
    {
        await using var watch = StartToa("stats", "--watch", "--interval", "100ms");

        await watch.WaitForLineAsync(l => l.StartsWith("getname_toa_bypass", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await watch.InterruptAsync(TimeSpan.FromSeconds(30));

        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+total\s+per second$", watch.Output[0]);
        Assert.Matches(@"^syn_recv_sock_toa\s+0\s+0$", watch.Output[1]);
        Assert.DoesNotContain(watch.Output, l => l.Contains('\u001b', StringComparison.Ordinal));
    }

    [Fact]
    public async Task Metrics_Scraped_PromtoolAcceptsAndCountsTheConnection()
    {
        await using var metrics = StartToa("metrics", "--listen", "127.0.0.1:9469");
        await metrics.WaitForLineAsync(l => l.StartsWith("Serving", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await OneConnectionWithToaAsync();

        var scrape = await ScrapeAsync();
        _lab.Unload();
        var afterUnload = await ScrapeAsync();
        await metrics.InterruptAsync(TimeSpan.FromSeconds(30));

        var (code, complaints) = await Promtool.CheckMetricsAsync(scrape);
        Assert.True(code == 0 && complaints.Trim().Length == 0, $"promtool: {complaints}");
        Assert.Contains("toa_receiver_loaded 1", scrape.Split('\n'));
        Assert.Contains("toa_receiver_syn_recv_sock_toa_total 1", scrape.Split('\n'));
        Assert.Contains("toa_receiver_loaded 0", afterUnload.Split('\n'));
        // The receiver's counters go with it; the process's own (dotnet_*, process_*) stay.
        Assert.DoesNotContain(afterUnload.Split('\n'), l => l.StartsWith("toa_receiver_", StringComparison.Ordinal) && l.Contains("_total", StringComparison.Ordinal));
        Assert.Contains(afterUnload.Split('\n'), l => l.StartsWith("process_open_handles ", StringComparison.Ordinal));
        Assert.Equal(0, (await metrics.WaitAsync(TimeSpan.FromSeconds(5))).ExitCode);
    }

    [Fact]
    public async Task Metrics_PortTaken_ExitsOneNamingTheAddress()
    {
        await using var first = StartToa("metrics", "--listen", "127.0.0.1:9469");
        await first.WaitForLineAsync(l => l.StartsWith("Serving", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        var second = await _lab.Server.RunToaAsync("", "metrics", "--listen", "127.0.0.1:9469", "--pin-dir", _lab.PinDirectory);

        Assert.Equal(1, second.ExitCode);
        Assert.StartsWith("fail: toa[2] cannot listen on 127.0.0.1:9469: ", second.StandardError);
    }

    /// <summary>curl inside the server's namespace, where the exporter listens on loopback.</summary>
    private async Task<string> ScrapeAsync()
    {
        var curl = await _lab.Server.RunAsync("curl", ["-sS", "--fail", "http://127.0.0.1:9469/metrics"]);
        Assert.True(curl.ExitCode == 0, curl.StandardError);
        return curl.StandardOutput + "\n"; // the lab gives the lines back without the last newline
    }

    private static JsonElement Counter(string line) =>
        JsonDocument.Parse(line).RootElement.GetProperty("counters").GetProperty("syn_recv_sock_toa");
}
