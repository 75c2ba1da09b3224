// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Toa.Balancer.Management;
using Toa.Testing;

namespace Toa.Cli.Tests.Commands;

/// <summary>
/// toa lb and toa metrics as processes of their own: signals and giving up root act on a whole
/// process, which the test host must not be.
/// </summary>
public sealed class LongRunningCommandTests : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("toa-long-").FullName;
    private readonly List<(Process Process, List<string> Log)> _started = [];
    private readonly List<string> _cgroups = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var (process, _) in _started)
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
        // After --user the balancer cannot remove its TOA writer's cgroup; the next start would.
        foreach (var cgroup in _cgroups.Where(Directory.Exists))
            Directory.Delete(cgroup);
        Directory.Delete(_dir, recursive: true);
    }

    private (Process Process, List<string> Log) Start(params string[] args)
    {
        var command = ToaCli.Command(args);
        var start = new ProcessStartInfo(command[0], command.Skip(1)) { RedirectStandardOutput = true, RedirectStandardError = true };
        var process = Process.Start(start)!;
        var log = new List<string>();
        void Add(object _, DataReceivedEventArgs e)
        {
            if (e.Data is { } line)
            {
                lock (log)
                    log.Add(line);
            }
        }
        process.OutputDataReceived += Add;
        process.ErrorDataReceived += Add;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _started.Add((process, log));
        return (process, log);
    }

    private static void Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static async Task<T> AnswerAsync<T>(Func<Task<T>> ask, Process process, List<string> log)
    {
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60); ; await Task.Delay(100))
        {
            if (process.HasExited)
                Assert.Fail($"it exited ({process.ExitCode}): {string.Join('\n', Snapshot(log))}");
            try
            {
                return await ask();
            }
            catch (Exception e) when (e is HttpRequestException or BalancerAdminException && DateTime.UtcNow < deadline)
            {
            }
        }
    }

    private static string[] Snapshot(List<string> log)
    {
        lock (log)
            return [.. log];
    }

    private string LbConfig(string socket, string backend, string toa = "off") =>
        WriteFile("lb.json", $$"""
            { "admin": "", "adminSocket": "{{socket}}",
              "listeners": [ { "name": "web", "address": "127.0.0.1:0", "toa": "{{toa}}", "backends": [ { "address": "{{backend}}" } ] } ] }
            """);

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task Metrics_Sighup_KeepsServingAndSigtermEndsItCleanly()
    {
        var url = $"http://127.0.0.1:{FreePort()}/metrics";
        var (process, log) = Start("metrics", "--listen", url[7..^8], "--pin-dir", Path.Combine(_dir, "no-receiver"));
        using var http = new HttpClient();
        await AnswerAsync(() => http.GetStringAsync(url), process, log);

        Signal(process, "HUP");
        var scrape = await AnswerAsync(() => http.GetStringAsync(url), process, log);
        Signal(process, "TERM");
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Contains("toa_receiver_loaded 0", scrape, StringComparison.Ordinal);
        Assert.Contains("toa_build_info{", scrape, StringComparison.Ordinal);
        Assert.Contains("process_open_handles ", scrape, StringComparison.Ordinal);
        Assert.Equal(0, process.ExitCode);
    }

    [Fact]
    public async Task Lb_Sighup_ReadsTheFileAgainAndKeepsRunning()
    {
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        var socket = Path.Combine(_dir, "lb.sock");
        var (process, log) = Start("lb", "--config", LbConfig(socket, backend.LocalEndpoint.ToString()!), "--threads", "1");
        using var client = new BalancerAdminClient(socket);
        await AnswerAsync(() => client.GetStatusAsync(), process, log);

        Signal(process, "HUP");
        var metrics = "";
        for (var i = 0; i < 600 && !metrics.Contains("toa_lb_config_reloads_total{result=\"unchanged\"} 1", StringComparison.Ordinal); i++)
        {
            await Task.Delay(100);
            metrics = await AnswerAsync(() => client.GetMetricsAsync(), process, log);
        }
        Signal(process, "TERM");
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Contains("toa_lb_config_reloads_total{result=\"unchanged\"} 1", metrics, StringComparison.Ordinal);
        Assert.Equal(0, process.ExitCode);
    }

    [Fact]
    public async Task Lb_User_RunsOnAsThatUserWithoutCapabilitiesAndStillRelays()
    {
        KernelTest.Require("root");
        await AssertRunsAsNobodyAndRelaysAsync("off");
    }

    [Fact]
    public async Task Lb_UserWithToa_TheWriterNeedsNoCapabilityOnceAttached()
    {
        KernelTest.Require();
        var metrics = await AssertRunsAsNobodyAndRelaysAsync("tencent");

        Assert.Contains("toa_lb_toa_written_total{listener=\"web\"} 1", metrics, StringComparison.Ordinal);
    }

    /// <summary>Starts toa lb --user nobody, checks it is nobody with no capability, relays one line; returns the metrics then.</summary>
    private async Task<string> AssertRunsAsNobodyAndRelaysAsync(string toa)
    {
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        var socket = Path.Combine(_dir, "lb.sock");
        var (process, log) = Start("lb", "--config", LbConfig(socket, backend.LocalEndpoint.ToString()!, toa), "--threads", "1", "--user", "nobody");
        using var client = new BalancerAdminClient(socket);
        var status = await AnswerAsync(() => client.GetStatusAsync(), process, log);
        foreach (var line in Snapshot(log))
        {
            if (line.IndexOf("now runs in cgroup ", StringComparison.Ordinal) is var at and >= 0)
                _cgroups.Add(line[(at + "now runs in cgroup ".Length)..].Trim());
        }
        await AnswerAsync(() => Task.FromResult(Snapshot(log).Any(l => l.Contains("Running on as user nobody", StringComparison.Ordinal))
            ? true : throw new HttpRequestException("not yet")), process, log);

        var proc = File.ReadAllLines($"/proc/{process.Id}/status");
        using (var relayed = new TcpClient())
        {
            await relayed.ConnectAsync(IPEndPoint.Parse(status.Listeners[0].Address));
            using var server = await backend.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(30));
            await relayed.GetStream().WriteAsync("ping\n"u8.ToArray());
            var buffer = new byte[5];
            await server.GetStream().ReadExactlyAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("ping\n"u8.ToArray(), buffer);
        }
        var metrics = await client.GetMetricsAsync();
        Signal(process, "TERM");
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("Uid:\t65534\t65534\t65534\t65534", proc.Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)));
        Assert.Equal("CapEff:\t0000000000000000", proc.Single(l => l.StartsWith("CapEff:", StringComparison.Ordinal)));
        Assert.Equal("CapPrm:\t0000000000000000", proc.Single(l => l.StartsWith("CapPrm:", StringComparison.Ordinal)));
        Assert.Equal(0, process.ExitCode);
        return metrics;
    }
}
