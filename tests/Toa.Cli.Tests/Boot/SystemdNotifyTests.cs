// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Toa.Testing;

namespace Toa.Cli.Tests.Boot;

/// <summary>
/// <c>toa lb</c> under a unit of Type=notify: READY=1 reaches the socket systemd names in
/// NOTIFY_SOCKET once the listeners accept. The test plays systemd's part with a socket of its own.
/// </summary>
public sealed class SystemdNotifyTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("toa-notify-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Lb_UnderANotifySocket_SaysReadyOnceItsListenerAccepts()
    {
        var port = FreePort();
        var config = Path.Join(_directory, "lb.json");
        File.WriteAllText(config, $$"""
            { "listeners": [ { "name": "web", "address": "127.0.0.1:{{port}}", "backends": [ { "address": "127.0.0.1:9" } ] } ] }
            """);
        var socketPath = Path.Join(_directory, "notify");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));
        var command = ToaCli.Command("lb", "--config", config);
        var info = new ProcessStartInfo(command[0], command.Skip(1)) { RedirectStandardError = true, RedirectStandardOutput = true };
        info.Environment["NOTIFY_SOCKET"] = socketPath;
        using var lb = Process.Start(info)!;
        try
        {
            var buffer = new byte[64];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var received = await notify.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);

            Assert.Equal("READY=1", Encoding.ASCII.GetString(buffer, 0, received));
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(IPAddress.Loopback, port);
        }
        finally
        {
            lb.Kill(entireProcessTree: true);
            await lb.WaitForExitAsync();
        }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
