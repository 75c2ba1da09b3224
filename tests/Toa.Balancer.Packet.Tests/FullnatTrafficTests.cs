// SPDX-License-Identifier: MIT
using System.Net.Sockets;
using System.Security.Cryptography;
using Toa.Bpf;
using Toa.Lab;
using Toa.Testing;

namespace Toa.Balancer.Packet.Tests;

/// <summary>Real TCP through the datapath attached in a balancer's namespace, between a client's and a server's.</summary>
public sealed class FullnatTrafficTests
{
    [Fact]
    public async Task Connection_ToVip_EchoesThroughTheServer_WithNoSocketOnTheBalancer()
    {
        using var lab = new DatapathLab();
        // Complete checksums on the wire, as real NICs deliver them: the receivers verify every segment.
        foreach (var host in new[] { lab.Client, lab.Server })
            Shell.Run("ip", "netns", "exec", host.Namespace, "ethtool", "-K", "eth0", "tx", "off");
        lab.Balancer.Enter(() =>
        {
            foreach (var ifindex in TcHook.Interfaces().Where(i => i != 1))
                lab.Datapath.Attach(ifindex);
            return 0;
        });
        using var echo = lab.Server.StartEchoServer(lab.Backend.Address, lab.Backend.Port);
        var data = RandomNumberGenerator.GetBytes(256 * 1024);

        using var client = lab.Client.Enter(() =>
        {
            var s = new Socket(lab.Vip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            s.Connect(lab.Vip);
            return s;
        });
        var peer = client.RemoteEndPoint;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var sending = Task.Run(async () =>
        {
            await client.SendAsync(data, timeout.Token);
            client.Shutdown(SocketShutdown.Send);
        });
        var received = new MemoryStream();
        var buffer = new byte[65536];
        int n;
        while ((n = await client.ReceiveAsync(buffer, timeout.Token)) > 0)
            received.Write(buffer, 0, n);
        await sending;
        var sockets = Shell.Run("ip", "netns", "exec", lab.Balancer.Namespace, "ss", "-tanH");

        Assert.Equal(SHA256.HashData(data), SHA256.HashData(received.ToArray()));
        Assert.Equal(lab.Vip, peer);
        Assert.DoesNotContain($"{lab.Vip.Address}:{lab.Vip.Port}", sockets);
        Assert.DoesNotContain(lab.ClientAddress.ToString(), sockets);
        Assert.Equal(1, lab.Count(PacketAbi.Counter.Connections));
        Assert.True(lab.Count(PacketAbi.Counter.ToaWritten) >= 1, "the handshake ACK got the TOA");
        Assert.Equal(0, lab.Count(PacketAbi.Counter.NoRoute));
    }
}
