// SPDX-License-Identifier: MIT
using System.Net.Sockets;

namespace Toa.Cli.CommandLine;

/// <summary>nc's job: stdin to a socket, the socket to stdout.</summary>
internal static class Pipe
{
    /// <summary>
    /// Runs both directions and returns the bytes sent. When stdin ends the socket's sending
    /// half is shut (a FIN) and both directions must finish; with <paramref name="keepOpen"/>
    /// no FIN is sent and the server closing the connection ends it.
    /// </summary>
    public static async Task<long> RunAsync(Socket socket, Stream input, TextWriter output, bool keepOpen, CancellationToken cancel)
    {
        long sent = 0;
        var up = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = await input.ReadAsync(buffer, cancel)) > 0)
            {
                await socket.SendAsync(buffer.AsMemory(0, n), cancel);
                Interlocked.Add(ref sent, n);
            }
            if (!keepOpen)
                socket.Shutdown(SocketShutdown.Send);
        }, cancel);
        var down = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            var stdout = output == Console.Out ? Console.OpenStandardOutput() : null;
            int n;
            while ((n = await socket.ReceiveAsync(buffer, cancel)) > 0)
            {
                if (stdout is not null)
                    await stdout.WriteAsync(buffer.AsMemory(0, n), cancel);
                else
                    await output.WriteAsync(System.Text.Encoding.UTF8.GetString(buffer, 0, n));
            }
            if (stdout is not null)
                await stdout.FlushAsync(cancel);
            else
                await output.FlushAsync(cancel);
        }, cancel);
        try
        {
            await (keepOpen ? down : Task.WhenAll(up, down));
        }
        catch (SocketException e)
        {
            throw new CliException($"connection to {socket.RemoteEndPoint}: {e.Message}");
        }
        return Interlocked.Read(ref sent);
    }
}
