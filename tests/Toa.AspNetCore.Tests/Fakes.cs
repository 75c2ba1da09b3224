// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Toa.Sockets;

namespace Toa.AspNetCore.Tests;

/// <summary>Answers getsockopt 4096 as a NAT64 connection from 2001:db8::7 port 2222 would.</summary>
internal sealed class Nat64Calls : IToaSocketCalls
{
    public static readonly IPEndPoint Client = new(IPAddress.Parse("2001:db8::7"), 2222);
    private int _calls;

    public int Calls => _calls;

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
    public int GetNat64Peer(Socket socket, Span<byte> peer) => 92;
}

internal sealed class SocketFeature(Socket socket) : IConnectionSocketFeature
{
    public Socket Socket { get; } = socket;
}

/// <summary>A connected pair on 127.0.0.1.</summary>
internal sealed class LoopbackPair : IDisposable
{
    private LoopbackPair(Socket client, Socket accepted)
    {
        Client = client;
        Accepted = accepted;
    }

    public Socket Client { get; }
    public Socket Accepted { get; }

    public static async Task<LoopbackPair> CreateAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        return new LoopbackPair(client, await listener.AcceptAsync());
    }

    public void Dispose()
    {
        Client.Dispose();
        Accepted.Dispose();
    }
}
