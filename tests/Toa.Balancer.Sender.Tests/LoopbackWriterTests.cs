// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Toa.Testing;

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
    public async Task Report_OptionFits_TrueAndNothingLogged(bool onSyn)
    {
        KernelTest.Require();
        var log = new ListLogger();
        using var writer = SenderToaWriter.Start(new ListLoggerFactory(log));
        using var listener = Listen();

        Assert.True(await ConnectAsync(writer, listener, Client6, new ToaSettings(ToaMode.Tencent, onSyn)));
        Assert.Empty(log.Lines);
    }

    [Fact]
    public async Task Report_NoRoomInTheSyn_FalseAndLogged()
    {
        KernelTest.Require();
        var log = new ListLogger();
        using var writer = SenderToaWriter.Start(new ListLoggerFactory(log));
        using var listener = Listen();
        // With an MD5 signature (20 bytes with padding) the kernel leaves timestamps out; beside
        // MSS, SACK-permitted and window scale, 8 bytes are left in the SYN: room for 200/8, not 253/20.
        SetMd5Key(listener);
        var onSyn = new ToaSettings(ToaMode.Tencent, OnSyn: true);

        Assert.False(await ConnectAsync(writer, listener, Client6, onSyn, md5: true));
        var line = Assert.Single(log.Lines);
        Assert.StartsWith("Warning ToaNoRoom: No room for 20 bytes of TOA in the syn of 127.0.0.1:", line);
        Assert.True(await ConnectAsync(writer, listener, Client4, onSyn, md5: true));
    }

    /// <summary>Connects as the relay does (attach, connect, report) and returns the report.</summary>
    private static async Task<bool> ConnectAsync(SenderToaWriter writer, Socket listener, IPEndPoint client, ToaSettings toa, bool md5 = false)
    {
        using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (md5)
            SetMd5Key(backend);
        writer.Attach(backend, client, toa);
        await backend.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = await listener.AcceptAsync();
        return await writer.ReportAsync(backend);
    }

    private static Socket Listen()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        return listener;
    }

    /// <summary>TCP_MD5SIG for peer 127.0.0.1 (struct tcp_md5sig: sockaddr_storage, flags, prefixlen, keylen, ifindex, key[80]).</summary>
    private static void SetMd5Key(Socket socket)
    {
        const int TcpMd5Sig = 14;
        var value = new byte[216];
        BinaryPrimitives.WriteUInt16LittleEndian(value, (ushort)AddressFamily.InterNetwork);
        IPAddress.Loopback.TryWriteBytes(value.AsSpan(4), out _);
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
