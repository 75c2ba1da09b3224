// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// <c>toa lb</c> under a low descriptor limit (<c>prlimit --nofile=256</c>) and a flood of clients
/// that hold their connections: with the default limit the flood is refused cleanly; with no limit
/// the balancer runs out of descriptors, backs off and says so once, not once per try.
/// </summary>
public sealed class BalancerDescriptorTests
{
    private const int EchoPort = 8200;
    private const int Port = 80;
    private const int Descriptors = 256;

    private static string Config(BalancerLab lab, string limit) => $$"""
        { "shutdownTimeout": "2s", "adminSocket": "", {{limit}}
          "listeners": [ { "name": "web", "address": "{{lab.Hosts.BalancerFor4}}:{{Port}}",
                           "backends": [ { "address": "{{lab.Hosts.ServerAddress}}:{{EchoPort}}" } ] } ] }
        """;

    private static async Task<LabProcess> StartAsync(BalancerLab lab, string config)
    {
        await File.WriteAllTextAsync(lab.ConfigPath, config);
        var balancer = lab.Hosts.Balancer.Start("prlimit", [$"--nofile={Descriptors}:{Descriptors}", "--", .. ToaCli.Command("lb", "--config", lab.ConfigPath)]);
        await balancer.WaitForLineAsync(l => l.Contains(" accepting on ", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        return balancer;
    }

    /// <summary>A client that sent a byte and got it back, or null when the balancer reset it or never answered.</summary>
    private static async Task<Socket?> EchoedAsync(BalancerLab lab)
    {
        Socket? socket = null;
        try
        {
            socket = await BalancerLab.ConnectAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, Port));
            await socket.SendAsync("?"u8.ToArray());
            var buffer = new byte[1];
            if (await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(TimeSpan.FromSeconds(5)) == 1)
                return socket;
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
        }
        socket?.Dispose();
        return null;
    }

    private static async Task<bool> StillEchoesAsync(Socket socket)
    {
        await socket.SendAsync("k"u8.ToArray());
        var buffer = new byte[1];
        return await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(TimeSpan.FromSeconds(10)) == 1 && buffer[0] == (byte)'k';
    }

    [Fact]
    public async Task DefaultLimit_FloodOfHeldClients_TheRestRefusedWhileEstablishedFlowAndTheAdminAnswers()
    {
        KernelTest.Require();
        await using var lab = new BalancerLab();
        using var echo = lab.Hosts.Server.StartEchoServer(lab.Hosts.ServerAddress, EchoPort);
        var balancer = await StartAsync(lab, Config(lab, ""));
        var held = new List<Socket>();
        try
        {
            for (var i = 0; i < 150; i++)
            {
                if (await EchoedAsync(lab) is { } socket)
                    held.Add(socket);
            }

            foreach (var socket in held)
                Assert.True(await StillEchoesAsync(socket));
            var status = await lab.ToaAsync("lb", "status", "--json");
            Assert.True(status.ExitCode == 0, status.StandardError);
            var root = JsonDocument.Parse(status.StandardOutput).RootElement;
            // (256 - what the process held at start - 64 spare) / 2 descriptors per connection.
            var limit = root.GetProperty("maxConnections").GetInt32();
            Assert.InRange(limit, 1, (Descriptors - 64) / 2);
            Assert.Equal((limit, limit), (held.Count, root.GetProperty("activeConnections").GetInt32()));
            Assert.DoesNotContain(balancer.Error, l => l.Contains("descriptors", StringComparison.Ordinal) || l.Contains("AcceptFailed", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var socket in held)
                socket.Dispose();
        }
    }

    [Fact]
    public async Task NoLimit_OutOfDescriptors_OneWarningWithTheCountAndServingResumesOnceClientsLeave()
    {
        KernelTest.Require();
        await using var lab = new BalancerLab();
        using var echo = lab.Hosts.Server.StartEchoServer(lab.Hosts.ServerAddress, EchoPort);
        var balancer = await StartAsync(lab, Config(lab, "\"maxConnections\": 0,"));
        var held = new List<Socket>();
        try
        {
            // Each client the balancer cannot take waits out EchoedAsync's timeout: a few are enough.
            var failed = 0;
            for (var i = 0; i < 150 && failed < 3; i++)
            {
                if (await EchoedAsync(lab) is { } socket)
                    held.Add(socket);
                else
                    failed++;
            }

            Assert.True(failed > 0, "the balancer never ran out of descriptors");
            foreach (var socket in held)
                Assert.True(await StillEchoesAsync(socket));
            var warnings = balancer.Error.Where(l => l.Contains("for want of descriptors", StringComparison.Ordinal)).ToArray();
            Assert.InRange(warnings.Length, 1, 3);
            Assert.DoesNotContain(balancer.Error, l => l.Contains("accept failed", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var socket in held)
                socket.Dispose();
        }
        await Task.Delay(TimeSpan.FromSeconds(1));
        using var again = await EchoedAsync(lab);
        Assert.NotNull(again);
    }
}
