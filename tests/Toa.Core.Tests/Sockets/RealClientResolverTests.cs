// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Sockets;
using Toa.Testing;
using Toa.Wire;

namespace Toa.Core.Tests.Sockets;

public class RealClientResolverTests
{
    private sealed class FakeCalls(int errno, byte[]? peer = null, int recordErrno = 19, ToaConnection? record = null) : IToaSocketCalls
    {
        public int Calls { get; private set; }

        public int GetReceiverRecord(Socket socket, out ToaConnection? found)
        {
            Calls++;
            found = record;
            return recordErrno;
        }

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
        Assert.Equal(2, calls.Calls);
    }

    private static readonly IPEndPoint Balancer = new(IPAddress.Parse("10.0.0.1"), 40000);

    [Fact]
    public async Task Resolve_ReceiverRecord_GivesClientAndWirePeerInOneCall()
    {
        using var pair = await LoopbackPair.CreateAsync();
        var record = new ToaConnection(new IPEndPoint(IPAddress.Loopback, 8000), Balancer,
            new IPEndPoint(IPAddress.Parse("2001:db8::7"), 2222), ToaLayout.Tencent6, ToaSource.Ack, TimeSpan.Zero);
        var calls = new FakeCalls(22, recordErrno: 0, record: record);

        var client = new RealClientResolver(calls).Resolve(pair.Accepted);

        Assert.Equal(ClientAddressSource.ReceiverRecord, client.Source);
        Assert.Equal(record.Client, client.Client);
        Assert.Equal(Balancer, client.Peer);
        Assert.Equal(1, calls.Calls);
    }

    [Fact]
    public async Task Resolve_ReceiverHasNoRecord_TruePeerWithoutAskingGetsockopt()
    {
        using var pair = await LoopbackPair.CreateAsync();
        var calls = new FakeCalls(0, recordErrno: 2);

        var client = new RealClientResolver(calls).Resolve(pair.Accepted);

        Assert.Equal(ClientAddressSource.None, client.Source);
        Assert.Equal(pair.Accepted.RemoteEndPoint, client.Client);
        Assert.Equal(1, calls.Calls);
    }

    [Fact]
    public async Task Resolve_Ipv4RecordOnDualStackSocket_ShownAsMapped()
    {
        using var listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
        listener.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        listener.Listen();
        using var connecting = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await connecting.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = await listener.AcceptAsync();
        var record = new ToaConnection(new IPEndPoint(IPAddress.Loopback, 8000), Balancer,
            new IPEndPoint(IPAddress.Parse("203.0.113.7"), 4321), ToaLayout.Tencent4, ToaSource.Ack, TimeSpan.Zero);

        var client = new RealClientResolver(new FakeCalls(22, recordErrno: 0, record: record)).Resolve(accepted);

        Assert.Equal(new IPEndPoint(IPAddress.Parse("::ffff:203.0.113.7"), 4321), client.Client);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("::ffff:10.0.0.1"), 40000), client.Peer);
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

    [Fact]
    public async Task Resolve_RecordsUnreadableAndNothingAnswers4096_KernelPeerWithoutWirePeer()
    {
        using var pair = await LoopbackPair.CreateAsync();

        // EACCES: our receiver's pin is there but cannot be opened; before 5.18 its refusal is ENOPROTOOPT.
        var client = new RealClientResolver(new FakeCalls(92, recordErrno: 13)).Resolve(pair.Accepted);

        Assert.Equal(ClientAddressSource.KernelPeer, client.Source);
        Assert.Equal(pair.Accepted.RemoteEndPoint, client.Client);
        Assert.Null(client.Peer);
    }

    [Fact]
    public async Task GetReceiverRecord_NoPin_NoReceiverInSight()
    {
        using var pair = await LoopbackPair.CreateAsync();
        using var calls = new SystemSocketCalls(Path.Combine(Path.GetTempPath(), $"toa-no-pin-{Guid.NewGuid():N}"));

        Assert.Equal(19, calls.GetReceiverRecord(pair.Accepted, out var record)); // ENODEV
        Assert.Null(record);
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
