// SPDX-License-Identifier: MIT
using System.Net.Sockets;

namespace Toa.Cli.CommandLine;

/// <summary>nc's job: stdin to a socket (then FIN), the socket to stdout, until both are done.</summary>
internal static class Pipe
{
    /// <summary>Runs both directions; returns the bytes sent.</summary>
    public static async Task<long> RunAsync(Socket socket, Stream input, TextWriter output, CancellationToken cancel)
    {
        var up = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            long sent = 0;
            int n;
            while ((n = await input.ReadAsync(buffer, cancel)) > 0)
            {
                await socket.SendAsync(buffer.AsMemory(0, n), cancel);
                sent += n;
            }
            socket.Shutdown(SocketShutdown.Send);
            return sent;
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
            await Task.WhenAll(up, down);
        }
        catch (SocketException e)
        {
            throw new CliException($"connection to {socket.RemoteEndPoint}: {e.Message}");
        }
        return await up;
    }
}
