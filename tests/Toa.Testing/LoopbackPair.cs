// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;

namespace Toa.Testing;

/// <summary>A connected pair on 127.0.0.1.</summary>
public sealed class LoopbackPair : IDisposable
{
    private LoopbackPair(Socket client, Socket accepted)
    {
        Client = client;
        Accepted = accepted;
    }

    /// <summary>The connecting side.</summary>
    public Socket Client { get; }
    /// <summary>The accepted side.</summary>
    public Socket Accepted { get; }

    /// <summary>Connects a client to a fresh listener and accepts it.</summary>
    public static async Task<LoopbackPair> CreateAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        return new LoopbackPair(client, await listener.AcceptAsync());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Client.Dispose();
        Accepted.Dispose();
    }
}
