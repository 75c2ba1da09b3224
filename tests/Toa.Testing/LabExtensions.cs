// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Lab;

namespace Toa.Testing;

/// <summary>Shortcuts the end-to-end tests share.</summary>
public static class LabExtensions
{
    /// <summary>Runs <c>toa ARGS</c> inside <paramref name="host"/> with <paramref name="input"/> on stdin.</summary>
    public static Task<ProcessResult> RunToaAsync(this Host host, string input, params string[] args)
    {
        var command = ToaCli.Command(args);
        return host.RunAsync(command[0], command.Skip(1), input);
    }

    /// <summary>
    /// A listener inside <paramref name="host"/> (created on a thread in its namespace)
    /// that echoes each connection's bytes back until the client closes.
    /// </summary>
    public static EchoServer StartEchoServer(this Host host, IPAddress address, int port = 8000)
    {
        var listener = host.Enter(() =>
        {
            var s = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(address, port));
            s.Listen();
            return s;
        });
        return new EchoServer(listener);
    }
}

/// <summary>An echo server on a listening socket; disposing closes it.</summary>
public sealed class EchoServer : IDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();

    internal EchoServer(Socket listener)
    {
        _listener = listener;
        _ = Task.Run(AcceptLoop);
    }

    /// <summary>Where it listens.</summary>
    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    var buffer = new byte[4096];
                    int n;
                    try
                    {
                        while ((n = await client.ReceiveAsync(buffer, _stop.Token)) > 0)
                            await client.SendAsync(buffer.AsMemory(0, n), _stop.Token);
                        client.Shutdown(SocketShutdown.Send);
                    }
                    catch (Exception e) when (e is OperationCanceledException or SocketException)
                    {
                    }
                }
            });
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
    }
}
