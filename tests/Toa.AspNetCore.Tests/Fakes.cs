// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using Toa.Sockets;
using Toa.Wire;

namespace Toa.AspNetCore.Tests;

/// <summary>Answers getsockopt 4096 as a NAT64 connection from 2001:db8::7 port 2222 would.</summary>
internal sealed class Nat64Calls : IToaSocketCalls
{
    public static readonly IPEndPoint Client = new(IPAddress.Parse("2001:db8::7"), 2222);
    private int _calls;

    public int Calls => _calls;

    public int GetReceiverRecord(Socket socket, out ToaConnection? record)
    {
        record = null;
        return 19; // no receiver of ours: ask getsockopt
    }

    public int GetNat64Peer(Socket socket, Span<byte> peer)
    {
        Interlocked.Increment(ref _calls);
        Convert.FromHexString("20010db8000000000000000000000007" + "08ae0000").CopyTo(peer);
        return 0;
    }
}

/// <summary>Answers as a kernel with no TOA receiver.</summary>
internal sealed class NoReceiverCalls : IToaSocketCalls
{
    public int GetReceiverRecord(Socket socket, out ToaConnection? record)
    {
        record = null;
        return 19;
    }

    public int GetNat64Peer(Socket socket, Span<byte> peer) => 92;
}

/// <summary>
/// Answers as our receiver on a connection whose TOA came with the first data: no record at the
/// first lookup (the connection's opening), 203.0.113.7:4321 from the second on.
/// </summary>
internal sealed class DataBorneCalls : IToaSocketCalls
{
    public static readonly ToaConnection Record = new(new IPEndPoint(IPAddress.Loopback, 8000), new IPEndPoint(IPAddress.Parse("10.0.0.1"), 40000),
        new IPEndPoint(IPAddress.Parse("203.0.113.7"), 4321), ToaLayout.Tencent4, ToaSource.Data, TimeSpan.Zero);
    private int _lookups;

    public int Lookups => _lookups;

    public int GetReceiverRecord(Socket socket, out ToaConnection? record)
    {
        record = Interlocked.Increment(ref _lookups) == 1 ? null : Record;
        return record is null ? 2 : 0;
    }

    public int GetNat64Peer(Socket socket, Span<byte> peer) => 22;
}

/// <summary>
/// Answers as a server that cannot read our receiver's records (a container without /sys/fs/bpf,
/// unprivileged bpf disabled) while a receiver answers getsockopt 4096 with <paramref name="nat64Errno"/>.
/// </summary>
internal sealed class UnreadableRecordsCalls(int recordErrno, int nat64Errno) : IToaSocketCalls
{
    public int GetReceiverRecord(Socket socket, out ToaConnection? record)
    {
        record = null;
        return recordErrno;
    }

    public int GetNat64Peer(Socket socket, Span<byte> peer) => nat64Errno;
}

/// <summary>Keeps what is logged: level, event and message.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly List<(LogLevel Level, EventId Event, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, EventId Event, string Message)> Entries { get { lock (_entries) return [.. _entries]; } }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
            _entries.Add((logLevel, eventId, formatter(state, exception)));
    }
}

internal sealed class SocketFeature(Socket socket) : IConnectionSocketFeature
{
    public Socket Socket { get; } = socket;
}
