// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Toa.Balancer;
using Toa.Balancer.Configuration;

namespace Toa.Cli.Tests.Commands;

public sealed class LbCommandTests : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _cleanup = [];
    private readonly string _directory = Directory.CreateTempSubdirectory("toa-lb-cli-").FullName;

    public async ValueTask DisposeAsync()
    {
        foreach (var item in _cleanup)
            await item.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData("lb")]
    [InlineData("lb", "check")]
    public async Task Lb_InvalidConfig_ExitsTwoWithEveryProblemOnALineNamingFileAndField(params string[] command)
    {
        var path = Write("""
            { "listeners": [ { "name": "web", "address": "127.0.0.1:0", "toa": "alibaba",
                               "backends": [ { "address": "127.0.0.1:8080", "weight": 0 } ] } ] }
            """);

        var (code, output, error) = await CliHarness.RunAsync([.. command, "--config", path]);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Equal(
            [
                $"fail: toa[6] {path}: listeners[0].toa = \"alibaba\": must be \"tencent\", \"dpvs\" or \"off\"",
                $"fail: toa[6] {path}: listeners[0].backends[0].weight = 0: must be 1 to 65535",
            ],
            Lines(error));
    }

    [Fact]
    public async Task LbCheck_RetriesLimitsAndFirstByteTimeout_AcceptedAndBadValuesRefused()
    {
        var good = Write("""
            { "maxConnections": 100, "maxConnectionsPerSource": 10,
              "listeners": [ { "name": "web", "address": "127.0.0.1:0", "retries": 2, "firstByteTimeout": "10s",
                               "backends": [ { "address": "127.0.0.1:8080" } ] } ] }
            """);
        var accepted = await CliHarness.RunAsync("lb", "check", "--config", good);
        var bad = Write(File.ReadAllText(good).Replace("10,", "-1,").Replace("\"retries\": 2", "\"retries\": -2").Replace("\"10s\"", "\"0s\""));

        var (code, _, error) = await CliHarness.RunAsync("lb", "check", "--config", bad);

        Assert.Equal(0, accepted.Code);
        Assert.Equal(2, code);
        Assert.Equal(
            [
                $"fail: toa[6] {bad}: maxConnectionsPerSource = -1: must be 0 (no limit) or more",
                $"fail: toa[6] {bad}: listeners[0].firstByteTimeout = \"0s\": must be longer than 0; leave it out for none",
                $"fail: toa[6] {bad}: listeners[0].retries = -2: must be 0 (no retry) to 100",
            ],
            Lines(error));
    }

    [Fact]
    public async Task LbCheck_PacketListenerAskingWhatTheEngineCannotDo_EachFieldAndReason()
    {
        var path = Write("""
            { "listeners": [ { "name": "vip", "address": "0.0.0.0:80", "engine": "packet", "scheduler": "least-connections", "retries": 1,
                               "backends": [ { "address": "10.1.0.11:8080" } ] } ] }
            """);

        var (code, _, error) = await CliHarness.RunAsync("lb", "check", "--config", path);

        Assert.Equal(2, code);
        Assert.Equal(
            [
                $"fail: toa[6] {path}: listeners[0].scheduler = \"least-connections\": the packet engine schedules in the kernel with Maglev only",
                $"fail: toa[6] {path}: listeners[0].retries = 1: the packet engine forwards the client's own SYN, so there is no connect to retry; leave it out",
                $"fail: toa[6] {path}: listeners[0].address = \"0.0.0.0:80\": a packet listener's address is one of the host's own, not a wildcard",
            ],
            Lines(error));
    }

    [Fact]
    public async Task Lb_SyntaxError_ExitsTwoNamingTheLine()
    {
        var path = Write("{\n  \"listeners\": [\n    { \"name\": \"web\" \"address\": \"127.0.0.1:0\" }\n  ]\n}");

        var (code, _, error) = await CliHarness.RunAsync("lb", "--config", path);

        Assert.Equal(2, code);
        Assert.StartsWith($"fail: toa[6] {path}:3: listeners[0]", Assert.Single(Lines(error)));
    }

    [Fact]
    public async Task Lb_MissingFile_ExitsTwoNamingIt()
    {
        var path = Path.Combine(_directory, "nowhere.json");

        var (code, _, error) = await CliHarness.RunAsync("lb", "--config", path);

        Assert.Equal(2, code);
        Assert.StartsWith($"fail: toa[6] {path}: Could not find file", Assert.Single(Lines(error)));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("many")]
    public async Task Lb_BadThreads_ExitsTwoNamingTheOption(string threads)
    {
        var path = Write("""{ "listeners": [] }""");

        var (code, _, error) = await CliHarness.RunAsync("lb", "--config", path, "--threads", threads);

        Assert.Equal(2, code);
        Assert.Equal($"fail: toa[1] --threads: '{threads}' is not a number from 1 to 1024 Run 'toa lb --help' for usage.", Assert.Single(Lines(error)));
    }

    [Fact]
    public async Task Lb_NoConfig_UsageError()
    {
        var (code, _, error) = await CliHarness.RunAsync("lb");

        Assert.Equal(2, code);
        Assert.Equal(["fail: toa[1] Option '--config' is required. Run 'toa lb --help' for usage."], Lines(error));
    }

    [Fact]
    public async Task LbCheck_ValidConfig_SummarisesEachListener()
    {
        var path = Write("""
            { "listeners": [
                { "name": "web", "address": "0.0.0.0:80", "toa": "tencent", "backends": [ { "address": "10.1.0.11:8080", "weight": 3 }, { "address": "10.1.0.12:8080" } ] },
                { "name": "api", "address": "[::]:443", "toaOnSyn": true, "toa": "dpvs", "scheduler": "maglev", "backends": [ { "address": "[fd00::21]:443" } ] },
                { "name": "plain", "address": "0.0.0.0:81", "proxyProtocol": "v2", "backends": [ { "address": "10.1.0.13:8080" } ] },
                { "name": "vip", "address": "192.0.2.10:80", "engine": "packet", "interfaces": [ "eth0" ], "toa": "dpvs", "backends": [ { "address": "10.1.0.14:8080" } ] } ] }
            """);

        var (code, output, _) = await CliHarness.RunAsync("lb", "check", "--config", path);

        Assert.Equal(0, code);
        Assert.Equal(
            [
                $"{path}: valid, 4 listeners; writes TOA, so toa lb needs root",
                "  web: 0.0.0.0:80, toa tencent, weighted-round-robin, 2 backends: 10.1.0.11:8080 (weight 3), 10.1.0.12:8080",
                "  api: [::]:443, toa dpvs (in the SYN too), maglev, 1 backend: [fd00::21]:443",
                "  plain: 0.0.0.0:81, toa off, PROXY protocol v2, weighted-round-robin, 1 backend: 10.1.0.13:8080",
                "  vip: 192.0.2.10:80, packet engine on eth0, toa dpvs, maglev, 1 backend: 10.1.0.14:8080",
            ],
            Lines(output));
    }

    [Fact]
    public async Task LbCheck_OnlyPacketListeners_SaysTheEngineNeedsRoot()
    {
        var path = Write("""
            { "listeners": [ { "name": "vip", "address": "192.0.2.10:80", "engine": "packet", "toa": "tencent", "backends": [ { "address": "10.1.0.14:8080" } ] } ] }
            """);

        var (code, output, _) = await CliHarness.RunAsync("lb", "check", "--config", path);

        Assert.Equal(0, code);
        Assert.Equal($"{path}: valid, 1 listener; runs the packet engine, so toa lb needs root", Lines(output)[0]);
    }

    [Fact]
    public async Task LbStatus_RunningBalancer_OneRowPerBackend()
    {
        var (host, backends) = StartBalancer();
        var listener = host.GetListenerEndPoint("web");

        var (code, output, _) = await CliHarness.RunAsync("lb", "status", "--admin", host.AdminEndPoint!.ToString());

        Assert.Equal(0, code);
        var rows = Lines(output).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        Assert.Equal(["LISTENER", "ADDRESS", "ENGINE", "TOA", "SCHEDULER", "BACKEND", "WEIGHT", "STATUS", "ACTIVE", "TOTAL", "MAX"], rows[0]);
        Assert.Equal(["web", $"{listener}", "proxy", "off", "round-robin", backends[0], "1", "healthy", "0", "0", "-"], rows[1]);
        Assert.Equal(["web", $"{listener}", "proxy", "off", "round-robin", backends[1], "2", "healthy", "0", "0", "-"], rows[2]);
        // No maxConnections in the file: the limit the descriptor limit allows.
        var limit = host.GetStatus().MaxConnections;
        Assert.True(limit > 0);
        Assert.Equal($"0 active connections (limit {limit})", Lines(output)[3]);
    }

    [Fact]
    public async Task LbStatus_Json_TheAdminEndpointsStatus()
    {
        var (host, backends) = StartBalancer();

        var (code, output, _) = await CliHarness.RunAsync("lb", "status", "--json", "--admin", host.AdminEndPoint!.ToString());

        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(output);
        var listener = json.RootElement.GetProperty("listeners")[0];
        Assert.Equal("web", listener.GetProperty("name").GetString());
        Assert.Equal("proxy", listener.GetProperty("engine").GetString());
        Assert.Equal(backends, listener.GetProperty("backends").EnumerateArray().Select(b => b.GetProperty("address").GetString()!));
    }

    [Fact]
    public async Task LbDrainDisableEnable_Backend_PrintsEachMatchAndTheStateChanges()
    {
        var (host, backends) = StartBalancer();
        var admin = host.AdminSocket!;

        var drain = await CliHarness.RunAsync("lb", "drain", backends[0], "--admin", admin);
        var drained = StatusOf(host, backends[0]);
        var disable = await CliHarness.RunAsync("lb", "disable", $"web/{backends[0]}", "--admin", admin);
        var disabled = StatusOf(host, backends[0]);
        var enable = await CliHarness.RunAsync("lb", "enable", backends[0], "--admin", admin);

        Assert.Equal((0, $"web/{backends[0]}: draining"), (drain.Code, drain.Out.Trim()));
        Assert.Equal("draining", drained);
        Assert.Equal((0, $"web/{backends[0]}: disabled"), (disable.Code, disable.Out.Trim()));
        Assert.Equal("disabled", disabled);
        Assert.Equal((0, $"web/{backends[0]}: enabled"), (enable.Code, enable.Out.Trim()));
        Assert.Equal("healthy", StatusOf(host, backends[0]));
    }

    [Fact]
    public async Task LbDrain_NoSuchBackend_ExitsOneSayingSo()
    {
        var (host, _) = StartBalancer();

        var (code, _, error) = await CliHarness.RunAsync("lb", "drain", "192.0.2.1:80", "--admin", host.AdminSocket!);

        Assert.Equal(1, code);
        Assert.Equal(["fail: toa[2] no backend matches \"192.0.2.1:80\""], Lines(error));
    }

    [Fact]
    public async Task LbStatus_NothingListening_ExitsOneNamingTheAddress()
    {
        using var unused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        unused.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        var (code, _, error) = await CliHarness.RunAsync("lb", "status", "--admin", unused.LocalEndPoint!.ToString()!);

        Assert.Equal(1, code);
        Assert.StartsWith($"fail: toa[2] cannot reach toa lb at {unused.LocalEndPoint}: Connection refused", Assert.Single(Lines(error)));
    }

    [Fact]
    public async Task LbDrain_Json_TheMatchedBackends()
    {
        var (host, backends) = StartBalancer();

        var (code, output, _) = await CliHarness.RunAsync("lb", "drain", backends[1], "--json", "--admin", host.AdminSocket!);

        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(output);
        Assert.Equal([$"web/{backends[1]}"], json.RootElement.GetProperty("backends").EnumerateArray().Select(b => b.GetString()!));
    }

    [Fact]
    public async Task LbDrain_OverTcpWithoutToken_ExitsOneNamingTheSocket()
    {
        var (host, backends) = StartBalancer();

        var (code, _, error) = await CliHarness.RunAsync("lb", "drain", backends[0], "--admin", host.AdminEndPoint!.ToString());

        Assert.Equal(1, code);
        Assert.Contains(host.AdminSocket!, Assert.Single(Lines(error)));
        Assert.Equal("healthy", StatusOf(host, backends[0]));
    }

    [Fact]
    public async Task LbDrain_OverTcpWithTokenFile_Applied()
    {
        var token = Path.Combine(_directory, $"token-{Guid.NewGuid():N}");
        File.WriteAllText(token, "t0ken\n");
        var (host, backends) = StartBalancer(token);

        var (code, output, _) = await CliHarness.RunAsync("lb", "drain", backends[0], "--admin", host.AdminEndPoint!.ToString(), "--token-file", token);

        Assert.Equal((0, $"web/{backends[0]}: draining"), (code, output.Trim()));
    }

    [Fact]
    public async Task LbReload_FromFile_PrintsTheResultAndRefusedExitsOne()
    {
        var socket = Path.Combine(_directory, $"lb-{Guid.NewGuid():N}.sock");
        var path = Write($$"""{ "admin": "", "adminSocket": "{{socket}}", "listeners": [ { "name": "web", "address": "127.0.0.1:0", "backends": [ { "address": "127.0.0.1:1" } ] } ] }""");
        using var provider = new FileConfigProvider(path);
        var host = BalancerHost.Start(new BalancerHostOptions { ConfigProvider = provider });
        _cleanup.Add(host);

        var unchanged = await CliHarness.RunAsync("lb", "reload", "--admin", socket);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"name\": \"web\"", "\"name\": \"web\", \"scheduler\": \"maglev\""));
        var applied = await CliHarness.RunAsync("lb", "reload", "--json", "--admin", socket);
        File.WriteAllText(path, "{ \"listeners\": [] }");
        var refused = await CliHarness.RunAsync("lb", "reload", "--admin", socket);

        Assert.Equal((0, "unchanged"), (unchanged.Code, unchanged.Out.Trim()));
        Assert.Equal(0, applied.Code);
        Assert.Equal("applied", JsonDocument.Parse(applied.Out).RootElement.GetProperty("result").GetString());
        Assert.Equal("maglev", host.GetStatus().Listeners[0].Scheduler);
        Assert.Equal(1, refused.Code);
        Assert.StartsWith("refused: ", refused.Out.Trim());
        Assert.Equal("maglev", host.GetStatus().Listeners[0].Scheduler);
    }

    [Theory]
    [InlineData("web", "drain", "web")]
    [InlineData("/10.0.0.1:80", "drain", "/10.0.0.1:80")]
    [InlineData("10.0.0.1", "disable", "10.0.0.1")]
    [InlineData("2001:db8::1:80", "enable", "2001:db8::1:80")]
    [InlineData("localhost:9180", "status", "--admin", "localhost:9180")]
    [InlineData("127.0.0.1", "drain", "10.0.0.1:80", "--admin", "127.0.0.1")]
    public async Task Lb_BadInput_ExitsTwoWithOneLineNamingIt(string bad, params string[] args)
    {
        var (code, output, error) = await CliHarness.RunAsync(["lb", .. args]);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        var line = Assert.Single(Lines(error));
        Assert.StartsWith("fail: toa[1] ", line);
        Assert.Contains($"'{bad}'", line);
        Assert.EndsWith($" Run 'toa lb {args[0]} --help' for usage.", line);
    }

    [Fact]
    public async Task LbHelp_TeachesWithExamples()
    {
        var (code, output, _) = await CliHarness.RunAsync("lb", "--help");

        Assert.Equal(0, code);
        Assert.Contains("toa lb --config /etc/toa/lb.json", output);
        Assert.Contains("shutdownTimeout (default 30s)", output);
        foreach (var sub in new[] { "check", "status", "drain", "disable", "enable", "reload" })
            Assert.Contains($"toa lb {sub} ", output);
    }

    private string Write(string json)
    {
        var path = Path.Combine(_directory, $"lb-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()).ToArray();

    private static string StatusOf(BalancerHost host, string backend) =>
        host.GetStatus().Listeners.Single().Backends.Single(b => b.Address == backend).Status;

    /// <summary>A balancer on loopback with two listening backends (weights 1 and 2) and an admin endpoint on a free port.</summary>
    private (BalancerHost Host, string[] Backends) StartBalancer(string? tokenFile = null)
    {
        var sockets = Enumerable.Range(0, 2).Select(_ =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            s.Listen();
            return s;
        }).ToArray();
        var backends = sockets.Select(s => s.LocalEndPoint!.ToString()!).ToArray();
        var host = BalancerHost.Start(new BalancerHostOptions
        {
            ConfigProvider = new InMemoryConfigProvider(new BalancerConfig
            {
                Admin = "127.0.0.1:0",
                AdminSocket = Path.Combine(_directory, $"lb-{Guid.NewGuid():N}.sock"),
                AdminTokenFile = tokenFile,
                Listeners =
                [
                    new ListenerConfig
                    {
                        Name = "web", Address = "127.0.0.1:0", Scheduler = "round-robin",
                        Backends = [new BackendConfig { Address = backends[0] }, new BackendConfig { Address = backends[1], Weight = 2 }],
                    },
                ],
            }),
        });
        _cleanup.Add(host);
        foreach (var s in sockets)
            _cleanup.Add(new SocketCloser(s));
        return (host, backends);
    }

    private sealed class SocketCloser(Socket socket) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
