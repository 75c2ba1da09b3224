// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Time.Testing;
using Toa.Balancer.Configuration;

namespace Toa.Balancer.Tests.Relay;

/// <summary>
/// The connection log's lines for real connections through a host on loopback, one per way a
/// connection ends. The host is stopped before the file is read: stopping writes every line.
/// </summary>
public sealed partial class ConnectionLogTests : IDisposable
{
    private readonly DirectoryInfo _files = Directory.CreateTempSubdirectory("toa-lb-log-");

    public void Dispose() => _files.Delete(recursive: true);

    private string File(string name) => Path.Join(_files.FullName, name);

    /// <summary>The log's lines, each parsed into its fields (the timestamp as "at").</summary>
    private static IReadOnlyList<IReadOnlyDictionary<string, string>> Lines(string path)
    {
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        var lines = new List<IReadOnlyDictionary<string, string>>();
        while (reader.ReadLine() is { } line)
        {
            var match = LineFormat().Match(line);
            Assert.True(match.Success, $"not a connection log line: {line}");
            var fields = match.Groups["fields"].Value.Split(' ').Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);
            fields["at"] = match.Groups["at"].Value;
            lines.Add(fields);
        }
        return lines;
    }

    [GeneratedRegex(@"^(?<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?<fields>listener=\S+ listen=\S+ client=\S+ backend=\S+ up=\d+ down=\d+ duration_ms=\d+ connect_failures=\d+ end=[a-z_]+)$")]
    private static partial Regex LineFormat();

    private enum Ending
    {
        ClientFinFirst, // send, half-close, read to the end
        BackendFinFirst, // send, read to the end, then close
        ClientReset, // send, read the answer, then reset
    }

    /// <summary>Sends <paramref name="send"/> through the balancer, reads <paramref name="expect"/> bytes back, ends as told; returns the client's address.</summary>
    private static async Task<IPEndPoint> ExchangeAsync(IPEndPoint balancer, byte[] send, int expect, Ending ending = Ending.ClientFinFirst)
    {
        using var client = await TestClient.ConnectAsync(balancer);
        var local = (IPEndPoint)client.LocalEndPoint!;
        await client.SendAsync(send);
        switch (ending)
        {
            case Ending.ClientReset:
                await TestClient.ReadExactlyAsync(client, expect);
                client.LingerState = new LingerOption(true, 0);
                break;
            case Ending.BackendFinFirst:
                Assert.Equal(expect, (await TestClient.ReadToEndAsync(client)).Bytes);
                break;
            default:
                client.Shutdown(SocketShutdown.Send);
                Assert.Equal(expect, (await TestClient.ReadToEndAsync(client)).Bytes);
                break;
        }
        return local;
    }

    /// <summary>A client the balancer resets at once; bound first, so its address is known even when the reset fails the connect.</summary>
    private static async Task<IPEndPoint> ResetAtOnceAsync(IPEndPoint balancer)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var local = (IPEndPoint)client.LocalEndPoint!;
        try
        {
            await client.ConnectAsync(balancer).WaitAsync(Eventually.Limit);
            Assert.Equal(SocketError.ConnectionReset, await TestClient.ReadEndAsync(client));
        }
        catch (SocketException e)
        {
            Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        }
        return local;
    }

    [Fact]
    public async Task Log_ConnectionsEndingEachWay_OneLineEachWithClientBackendBytesAndEnd()
    {
        var path = File("lb.log");
        await using var echo = TestServer.Echo();
        // Answers the first bytes with "bye" and closes.
        await using var greeter = new TestServer(async socket =>
        {
            await TestClient.ReadExactlyAsync(socket, 2);
            await socket.SendAsync("bye"u8.ToArray());
            socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[64];
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }
        });
        using var refusing = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        refusing.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // bound, never listening: connects are refused
        var refused = refusing.LocalEndPoint!.ToString()!;
        var config = TestHosts.Config(
            TestHosts.Listener("web", echo),
            TestHosts.Listener("greet", greeter) with { Address = "127.0.0.2:0" },
            TestHosts.Listener("dead", [refused]) with { Address = "127.0.0.3:0", Retries = 0 },
            TestHosts.Listener("quiet", echo) with { Address = "127.0.0.4:0", Log = new LogConfig { Enabled = false } }) with { Log = new LogConfig { To = path } };
        var (host, _) = TestHosts.Start(config);
        var listen = new[] { "web", "greet", "dead" }.ToDictionary(n => n, n => host.EndPoint(n).ToString());
        IPEndPoint closed, greeted, reset, dead;
        await using (host.StopOnDispose())
        {
            closed = await ExchangeAsync(host.EndPoint("web"), "hello"u8.ToArray(), expect: 5);
            greeted = await ExchangeAsync(host.EndPoint("greet"), "hi"u8.ToArray(), expect: 3, Ending.BackendFinFirst);
            reset = await ExchangeAsync(host.EndPoint("web"), "abc"u8.ToArray(), expect: 3, Ending.ClientReset);
            await ExchangeAsync(host.EndPoint("quiet"), "q"u8.ToArray(), expect: 1);
            dead = await ResetAtOnceAsync(host.EndPoint("dead"));
            await Eventually.True(() => host.GetStatus().ActiveConnections == 0, "every connection ended");
        }

        var lines = Lines(path).ToDictionary(l => l["client"]);
        Assert.Equal(4, lines.Count);
        AssertLine(lines[closed.ToString()], "web", listen["web"], echo.Address, up: 5, down: 5, failures: 0, "client_closed");
        AssertLine(lines[greeted.ToString()], "greet", listen["greet"], greeter.Address, up: 2, down: 3, failures: 0, "backend_closed");
        AssertLine(lines[reset.ToString()], "web", listen["web"], echo.Address, up: 3, down: 3, failures: 0, "client_reset");
        AssertLine(lines[dead.ToString()], "dead", listen["dead"], refused, up: 0, down: 0, failures: 1, "refused");
    }

    private static void AssertLine(IReadOnlyDictionary<string, string> line, string listener, string listen, string backend, long up, long down, int failures, string end)
    {
        Assert.Equal(listener, line["listener"]);
        Assert.Equal(listen, line["listen"]);
        Assert.Equal(backend, line["backend"]);
        Assert.Equal(up.ToString(System.Globalization.CultureInfo.InvariantCulture), line["up"]);
        Assert.Equal(down.ToString(System.Globalization.CultureInfo.InvariantCulture), line["down"]);
        Assert.Equal(failures.ToString(System.Globalization.CultureInfo.InvariantCulture), line["connect_failures"]);
        Assert.Equal(end, line["end"]);
    }

    [Fact]
    public async Task Log_RefusedAtTheLimitAndSilentClient_LimitAndFirstByteTimeout()
    {
        var path = File("listener.log");
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 1, 2, 3, 456, TimeSpan.Zero));
        await using var echo = TestServer.Echo();
        var listener = TestHosts.Listener("web", echo) with
        {
            FirstByteTimeout = TimeSpan.FromSeconds(5),
            Log = new LogConfig { To = path },
            Backends = [new BackendConfig { Address = echo.Address, MaxConnections = 1 }],
        };
        var (host, _) = TestHosts.Start(TestHosts.Config(listener), time);
        IPEndPoint silent, limited;
        await using (host.StopOnDispose())
        {
            using var first = await TestClient.ConnectAsync(host.EndPoint());
            silent = (IPEndPoint)first.LocalEndPoint!;
            await Eventually.True(() => host.GetStatus().ActiveConnections == 1, "the first client is relayed");
            limited = await ResetAtOnceAsync(host.EndPoint());
            var end = TestClient.ReadEndAsync(first);
            await Eventually.True(() =>
            {
                time.Advance(TimeSpan.FromSeconds(1));
                return end.IsCompleted;
            }, "the silent client was reset");
        }

        var lines = Lines(path).ToDictionary(l => l["client"]);
        Assert.Equal(2, lines.Count);
        Assert.Equal("first_byte_timeout", lines[silent.ToString()]["end"]);
        Assert.Equal(echo.Address, lines[silent.ToString()]["backend"]);
        Assert.Equal("2026-12-04T01:02:03.456Z", lines[silent.ToString()]["at"]);
        Assert.Equal("limit", lines[limited.ToString()]["end"]);
        Assert.Equal("-", lines[limited.ToString()]["backend"]);
    }

    [Fact]
    public async Task Log_LeftOut_NothingWritten()
    {
        await using var echo = TestServer.Echo();
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", echo)));
        await using (host.StopOnDispose())
            await ExchangeAsync(host.EndPoint(), "x"u8.ToArray(), expect: 1);

        Assert.Null(ListenerSettings.From(host.Config.Listeners![0], host.Config.Log).LogTo);
        Assert.Empty(_files.EnumerateFiles());
    }

    [Theory]
    [InlineData("{ \"to\": \"lb.log\" }", "log.to = \"lb.log\": must be \"stdout\" or a file's absolute path")]
    [InlineData("{ \"to\": \"/var/log/\" }", "log.to = \"/var/log/\": must be \"stdout\" or a file's absolute path")]
    public void Parse_BadLogTarget_RefusedNamingTheField(string log, string problem)
    {
        var json = $$"""
            { "log": {{log}}, "listeners": [ { "name": "web", "address": "127.0.0.1:0", "backends": [ { "address": "127.0.0.1:9001" } ] } ] }
            """;

        var e = Assert.Throws<BalancerConfigException>(() => BalancerConfigLoader.Parse(json, "lb.json"));

        Assert.StartsWith("lb.json: " + problem, Assert.Single(e.Problems).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_LogTopLevelAndPerListener_ListenerOverridesAndStdoutIsTheDefault()
    {
        var config = BalancerConfigLoader.Parse("""
            { "log": { },
              "listeners": [ { "name": "a", "address": "127.0.0.1:0", "backends": [ { "address": "127.0.0.1:9001" } ] },
                             { "name": "b", "address": "127.0.0.1:1", "log": { "to": "/var/log/b.log" }, "backends": [ { "address": "127.0.0.1:9001" } ] },
                             { "name": "c", "address": "127.0.0.1:2", "log": { "enabled": false }, "backends": [ { "address": "127.0.0.1:9001" } ] } ] }
            """, "lb.json");

        Assert.Equal(["stdout", "/var/log/b.log", null], config.Listeners!.Select(l => ListenerSettings.From(l, config.Log).LogTo));
    }
}
