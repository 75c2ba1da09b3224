// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Sockets;
using Toa.Testing;

namespace Toa.Core.Tests.Sockets;

public class RealClientResolverTests
{
    private sealed class FakeCalls(int errno, byte[]? peer = null) : IToaSocketCalls
    {
        public int Calls { get; private set; }

        public int GetNat64Peer(Socket socket, Span<byte> buffer)
        {
            Calls++;
            peer?.CopyTo(buffer);
            return errno;
        }
    }

    [Fact]
    public async Task Resolve_Nat64Answer_GivesIpv6ClientAndWirePeer()
    {
        using var pair = await LoopbackPair.CreateAsync();
        var bytes = Convert.FromHexString("20010db8000000000000000000000007" + "08ae" + "0000");
        var calls = new FakeCalls(0, bytes);

        var client = new RealClientResolver(calls).Resolve(pair.Accepted);

        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 2222), client.Client);
        Assert.Equal(ClientAddressSource.Nat64Lookup, client.Source);
        Assert.Equal(pair.Accepted.RemoteEndPoint, client.Peer);
        Assert.Equal(1, calls.Calls);
    }

    [Fact]
    public async Task Resolve_NoReceiverInKernel_GivesTruePeer()
    {
        using var pair = await LoopbackPair.CreateAsync();

        var client = new RealClientResolver(new FakeCalls(92)).Resolve(pair.Accepted);

        Assert.Equal(ClientAddressSource.None, client.Source);
        Assert.Equal(pair.Accepted.RemoteEndPoint, client.Client);
        Assert.Equal(pair.Accepted.RemoteEndPoint, client.Peer);
        Assert.False(client.FromToa);
    }

    [Theory]
    [InlineData(22)] // EINVAL: DPVS-style "no TOA on this connection"
    [InlineData(2)]  // ENOENT
    public async Task Resolve_ReceiverSaysNotNat64_KeepsKernelPeerWithoutWirePeer(int errno)
    {
        using var pair = await LoopbackPair.CreateAsync();

        var client = new RealClientResolver(new FakeCalls(errno)).Resolve(pair.Accepted);

        Assert.Equal(ClientAddressSource.KernelPeer, client.Source);
        Assert.Equal(pair.Accepted.RemoteEndPoint, client.Client);
        Assert.Null(client.Peer);
    }

    [Fact]
    public async Task Resolve_RealCallsWithoutReceiver_NeverThrowsAndKeepsPeer()
    {
        using var pair = await LoopbackPair.CreateAsync();

        var client = RealClientResolver.System.Resolve(pair.Accepted);

        Assert.Equal(pair.Accepted.RemoteEndPoint, client.Client);
        Assert.NotEqual(ClientAddressSource.Nat64Lookup, client.Source);
    }

    [Fact]
    public void Resolve_Unconnected_Throws()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.Throws<ArgumentException>(() => RealClientResolver.System.Resolve(socket));
    }
}
