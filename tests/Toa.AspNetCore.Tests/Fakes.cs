// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
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

internal sealed class SocketFeature(Socket socket) : IConnectionSocketFeature
{
    public Socket Socket { get; } = socket;
}
