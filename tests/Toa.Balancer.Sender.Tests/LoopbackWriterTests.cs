// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Toa.Balancer.Configuration;
using Toa.Testing;
using Toa.Wire;

namespace Toa.Balancer.Sender.Tests;

/// <summary>
/// The writer against the real sender on loopback. Starting it moves this test process into the
/// sender's cgroup until the test ends, so these tests run one at a time (one class).
/// </summary>
public sealed class LoopbackWriterTests
{
    private static readonly IPEndPoint Client4 = IPEndPoint.Parse("203.0.113.7:4321");
    private static readonly IPEndPoint Client6 = IPEndPoint.Parse("[2001:db8::7]:2222");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Counts_OptionFits_WrittenAndNothingLogged(bool onSyn)
    {
        KernelTest.Require();
        var log = new ListLogger();
        var writer = SenderToaWriter.Start(new ListLoggerFactory(log));
        var cgroup = writer.CgroupPath;
        using (writer)
        {
            using var listener = Listen(IPAddress.Loopback);

            await ConnectAsync(writer, "web", listener, Client6, new ToaSettings(ToaFormat.Tencent, onSyn));

            Assert.Equal(new ToaCounts(1, 0), await SettledAsync(writer, "web", 1));
        }
        Assert.Equal([$"Information ToaWriterStarted: TOA writer attached; this process now runs in cgroup {cgroup}"], log.Lines);
    }

    [Fact]
    public void Deferred_LoadsNothingUntilPrepareWhichStartsItOnce()
    {
        KernelTest.Require();
        var log = new ListLogger();
        using var writer = SenderToaWriter.Deferred(new ListLoggerFactory(log));
        var before = writer.CgroupPath;

        writer.Prepare();
        var started = writer.CgroupPath;
        writer.Prepare();

        Assert.Null(before);
        Assert.NotNull(started);
        Assert.True(Directory.Exists(started), started);
        Assert.Equal(started, writer.CgroupPath);
        Assert.Single(log.Lines);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Counts_NoRoomInTheSyn_FailedAndTheConnectionNamedInTheWarning(string loopback)
    {
        KernelTest.Require();
        var log = new ListLogger();
        var address = IPAddress.Parse(loopback);
        var writer = SenderToaWriter.Start(new ListLoggerFactory(log));
        string failed;
        using (writer)
        {
            using var listener = Listen(address);
            // With an MD5 signature (20 bytes with padding) the kernel leaves timestamps out; beside
            // MSS, SACK-permitted and window scale, 8 bytes are left in the SYN: room for 200/8, not 253/20.
            SetMd5Key(listener, address);
            var onSyn = new ToaSettings(ToaFormat.Tencent, OnSyn: true);

            failed = await ConnectAsync(writer, "nat64", listener, Client6, onSyn, md5: true);
            await ConnectAsync(writer, "snat", listener, Client4, onSyn, md5: true);

            Assert.Equal(new ToaCounts(0, 1), await SettledAsync(writer, "nat64", 1));
            Assert.Equal(new ToaCounts(1, 0), await SettledAsync(writer, "snat", 1));
        }
        // Disposing warns of what the last look had not seen (after the line saying the writer started).
        var line = Assert.Single(log.Lines.Skip(1));
        Assert.Equal($"Warning ToaNotWritten: Listener nat64: 1 backend connection(s) went without the TOA, so their backends see the balancer's address; "
            + $"the last, {failed}: no room for 20 bytes of TOA in the syn", line);
    }

    [Fact]
    public async Task ConnectionsMapFull_WrittenAllTheSameAndWarnedOf()
    {
        KernelTest.Require();
        var log = new ListLogger();
        var writer = SenderToaWriter.Start(new ListLoggerFactory(log), connections: 1);
        using (writer)
        {
            using var listener = Listen(IPAddress.Loopback);
            using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            writer.Attach(first, Client4, new ToaSettings(ToaFormat.Tencent, OnSyn: false), "web");
            await first.ConnectAsync(listener.LocalEndPoint!);
            using var accepted = await listener.AcceptAsync();

            await ConnectAsync(writer, "web", listener, Client4, new ToaSettings(ToaFormat.Tencent, OnSyn: false));

            Assert.Equal(new ToaCounts(2, 0), await SettledAsync(writer, "web", 2));
        }
        Assert.Equal("Warning ToaConnectionsFull: Listener web: 1 backend connection(s) kept the sender's state in socket storage "
            + "(about 400 bytes each instead of 128): its connections map (toaConnections: 1) was full", Assert.Single(log.Lines.Skip(1)));
    }

    [Fact]
    public void Prepare_AnotherSizeOnceStarted_KeptAndLoggedOnce()
    {
        KernelTest.Require();
        var log = new ListLogger();
        using var writer = SenderToaWriter.Start(new ListLoggerFactory(log), connections: 100);

        writer.Prepare(200);
        writer.Prepare(200);
        writer.Prepare(100);

        Assert.Equal("Warning ToaConnectionsKept: toaConnections 200 applies when the TOA writer starts; it runs with 100 until the balancer restarts",
            Assert.Single(log.Lines.Skip(1)));
    }

    /// <summary>
    /// A redispatched client: its first backend socket had the option attached but its connect was
    /// refused, so no handshake settled. Only the relayed connections count, all written; a refused
    /// attempt counted as gone without would warn of a TOA no backend ever missed.
    /// </summary>
    [Fact]
    public async Task Counts_ConnectsRefusedThenRedispatched_OnlyTheRelayedConnectionsWritten()
    {
        KernelTest.Require();
        using var live = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        live.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        live.Listen();
        using var refusing = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        refusing.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // bound, never listening: connects are refused
        var config = new BalancerConfig
        {
            Admin = "",
            Listeners =
            [
                new ListenerConfig
                {
                    Name = "web",
                    Address = "127.0.0.1:0",
                    Toa = "tencent",
                    Scheduler = "round-robin",
                    Retries = 1,
                    Health = new HealthConfig { EjectAfter = 0 }, // the refusing backend stays in the pool
                    Backends = [new BackendConfig { Address = refusing.LocalEndPoint!.ToString() }, new BackendConfig { Address = live.LocalEndPoint!.ToString() }],
                },
            ],
        };
        const int Clients = 4;
        using var writer = SenderToaWriter.Start();
        await using (var host = BalancerHost.Start(new BalancerHostOptions { ConfigProvider = new InMemoryConfigProvider(config), ToaWriter = writer }))
        {
            for (var i = 0; i < Clients; i++)
            {
                using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await client.ConnectAsync(host.GetListenerEndPoint("web")).WaitAsync(TimeSpan.FromSeconds(20));
                await client.SendAsync("x"u8.ToArray());
                using var backend = await live.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(20));
                var buffer = new byte[1];
                Assert.Equal(1, await backend.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(20)));
            }
            var retries = await MetricAsync(host, "toa_lb_connect_retries_total{listener=\"web\"}");

            Assert.Equal(new ToaCounts(Clients, 0), await SettledAsync(writer, "web", Clients));
            Assert.True(retries >= 1, $"{retries} redispatches: every client found the refusing backend gone");
        }
    }

    /// <summary>
    /// Connects as the relay does (attach, then connect) and returns the connection as the
    /// program names it: local, then remote.
    /// </summary>
    private static async Task<string> ConnectAsync(SenderToaWriter writer, string name, Socket listener, IPEndPoint client, ToaSettings toa, bool md5 = false)
    {
        using var backend = new Socket(listener.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        var server = (IPEndPoint)listener.LocalEndPoint!;
        if (md5)
            SetMd5Key(backend, server.Address);
        writer.Attach(backend, client, toa, name);
        await backend.ConnectAsync(server);
        using var accepted = await listener.AcceptAsync();
        return $"{backend.LocalEndPoint} -> {backend.RemoteEndPoint}";
    }

    /// <summary>The listener's counts once <paramref name="connections"/> settled (the handshake ACK may leave a moment after connect).</summary>
    private static async Task<ToaCounts> SettledAsync(SenderToaWriter writer, string name, int connections)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var counts = writer.Counts().GetValueOrDefault(name);
            if (counts.Written + counts.Failed >= connections || DateTime.UtcNow > deadline)
                return counts;
            await Task.Delay(10);
        }
    }

    private static async Task<double> MetricAsync(BalancerHost host, string series)
    {
        using var text = new MemoryStream();
        await host.WriteMetricsAsync(text);
        var line = System.Text.Encoding.UTF8.GetString(text.ToArray()).Split('\n').Single(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Socket Listen(IPAddress loopback)
    {
        var listener = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(loopback, 0));
        listener.Listen();
        return listener;
    }

    /// <summary>
    /// TCP_MD5SIG for <paramref name="peer"/> (struct tcp_md5sig: sockaddr_storage, flags, prefixlen,
    /// keylen, ifindex, key[80]; the address at offset 4 of sockaddr_in, 8 of sockaddr_in6).
    /// </summary>
    private static void SetMd5Key(Socket socket, IPAddress peer)
    {
        const int TcpMd5Sig = 14;
        var value = new byte[216];
        var v6 = peer.AddressFamily == AddressFamily.InterNetworkV6;
        BinaryPrimitives.WriteUInt16LittleEndian(value, v6 ? (ushort)10 : (ushort)2);
        peer.TryWriteBytes(value.AsSpan(v6 ? 8 : 4), out _);
        var key = "toa-test"u8;
        BinaryPrimitives.WriteUInt16LittleEndian(value.AsSpan(130), (ushort)key.Length);
        key.CopyTo(value.AsSpan(136));
        socket.SetRawSocketOption((int)SocketOptionLevel.Tcp, TcpMd5Sig, value);
    }

    private sealed class ListLogger : ILogger
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines { get { lock (_lines) return [.. _lines]; } }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                lock (_lines)
                    _lines.Add($"{logLevel} {eventId.Name}: {formatter(state, exception)}");
        }
    }

    private sealed class ListLoggerFactory(ListLogger logger) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => logger;
        public void AddProvider(ILoggerProvider provider) { }
        public void Dispose() { }
    }
}
