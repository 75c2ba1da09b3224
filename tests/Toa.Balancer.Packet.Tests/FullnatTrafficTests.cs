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
    /// <param name="nat64">An IPv6 client through the NAT64 listener.</param>
    /// <param name="offload">veth's default: checksums left to the receiver (CHECKSUM_PARTIAL) and segments of 64 KiB (GSO).</param>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Connection_ToVip_EchoesThroughTheServer_WithNoSocketOnTheBalancer(bool nat64, bool offload)
    {
        using var lab = new DatapathLab();
        var vip = nat64 ? lab.Vip6 : lab.Vip;
        var listener = nat64 ? DatapathLab.Nat64ListenerId : DatapathLab.ListenerId;
        var clientAddress = nat64 ? lab.Client6Address : lab.ClientAddress;
        // Without offload, complete checksums on the wire, as real NICs deliver them: the receivers verify every segment.
        if (!offload)
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
            var s = new Socket(vip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            s.Connect(vip);
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
        Assert.Equal(vip, peer);
        Assert.DoesNotContain($":{vip.Port} ", sockets);
        Assert.DoesNotContain(clientAddress.ToString(), sockets);
        Assert.Equal(1, lab.Count(PacketAbi.Counter.Connections, listener));
        Assert.True(lab.Count(PacketAbi.Counter.ToaWritten, listener) >= 1, "the handshake ACK got the TOA");
        Assert.Equal(0, lab.Count(PacketAbi.Counter.NoRoute, listener));
    }
}
