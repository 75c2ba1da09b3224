// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Toa.Balancer.Tests;

/// <summary>
/// A backend on loopback that runs <c>handler</c> for every connection, counts them and closes
/// everything on dispose (even when a test fails half-way).
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly Func<Socket, Task> _handler;
    private readonly List<Task> _handlers = [];
    private readonly List<Socket> _accepted = [];
    private Socket _listener;
    private Task _acceptLoop;
    private int _acceptedCount;

    public TestServer(Func<Socket, Task> handler, IPAddress? address = null)
    {
        _handler = handler;
        _listener = Listen(new IPEndPoint(address ?? IPAddress.Loopback, 0));
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync(_listener);
    }

    public IPEndPoint EndPoint { get; }

    public string Address => EndPoint.ToString();

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _acceptedCount);

    /// <summary>Connections that sent data (health checks connect and close without any).</summary>
    public int Served => Volatile.Read(ref _served);

    private int _served;

    /// <summary>Echoes everything back; passes a FIN on as a FIN.</summary>
    public static TestServer Echo()
    {
        TestServer? server = null;
        server = new TestServer(async socket =>
        {
            var buffer = new byte[16384];
            var first = true;
            int n;
            while ((n = await socket.ReceiveAsync(buffer)) > 0)
            {
                if (first)
                    Interlocked.Increment(ref server!._served);
                first = false;
                await socket.SendAsync(buffer.AsMemory(0, n));
            }
            socket.Shutdown(SocketShutdown.Send);
        });
        return server;
    }

    /// <summary>Stops listening (connects are refused) and closes accepted connections.</summary>
    public async Task StopAsync()
    {
        _listener.Dispose();
        await _acceptLoop;
        lock (_accepted)
        {
            foreach (var socket in _accepted)
                socket.Dispose();
        }
    }

    /// <summary>Listens again on the same port.</summary>
    public void Restart()
    {
        _listener = Listen(EndPoint);
        _acceptLoop = AcceptLoopAsync(_listener);
    }

    private static Socket Listen(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.Bind(endPoint);
        socket.Listen(128);
        return socket;
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref _acceptedCount);
            lock (_accepted)
            {
                _accepted.Add(socket);
                _handlers.Add(RunHandler(socket));
            }
        }
    }

    private async Task RunHandler(Socket socket)
    {
        try
        {
            await _handler(socket);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The test decides what a broken connection means; handlers report through their own state.
        }
        finally
        {
            socket.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Task[] handlers;
        lock (_accepted)
            handlers = [.. _handlers];
        await Task.WhenAll(handlers).WaitAsync(Eventually.Limit);
    }
}

/// <summary>Client-side helpers.</summary>
internal static class TestClient
{
    public static async Task<Socket> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint).WaitAsync(Eventually.Limit);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The SHA-256 (hex) and length of <paramref name="data"/>, as <see cref="ReadToEndAsync"/> reports them.</summary>
    public static (string Hash, long Bytes) Digest(byte[] data) => (Convert.ToHexString(SHA256.HashData(data)), data.Length);

    /// <summary>Reads to EOF, returning the SHA-256 (hex) and the count of what came.</summary>
    public static async Task<(string Hash, long Bytes)> ReadToEndAsync(Socket socket)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[65536];
        long total = 0;
        int n;
        while ((n = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Eventually.Limit)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }
        return (Convert.ToHexString(hash.GetHashAndReset()), total);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes.</summary>
    public static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        for (var at = 0; at < count;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(at)).AsTask().WaitAsync(Eventually.Limit);
            if (n == 0)
                throw new EndOfStreamException($"EOF after {at} of {count} bytes");
            at += n;
        }
        return buffer;
    }

    /// <summary>What a read ends in: data, EOF (0), or the socket error (a reset).</summary>
    public static async Task<SocketError> ReadEndAsync(Socket socket)
    {
        var buffer = new byte[65536];
        try
        {
            while (await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Eventually.Limit) > 0)
            {
            }
            return SocketError.Success;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode;
        }
    }

    /// <summary>Random bytes from a fixed seed.</summary>
    public static byte[] Payload(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
