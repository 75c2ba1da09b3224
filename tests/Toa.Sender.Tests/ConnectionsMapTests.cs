// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Testing;
using Toa.Wire;

namespace Toa.Sender.Tests;

/// <summary>
/// A connection's state moves from socket storage into the connections map at connect() and
/// leaves it when the connection closes; a full map leaves it in socket storage. On loopback,
/// with the sender's programs really loaded; starting it moves this process into its cgroup,
/// so the classes that start one share a collection and run one at a time.
/// </summary>
[Collection(nameof(ToaSender))]
public sealed class ConnectionsMapTests
{
    private static readonly ToaAddress[] Options = [new(ToaLayout.Tencent4, IPEndPoint.Parse("203.0.113.7:4321"))];
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Connections_InTheMapWhileOpenWithoutSocketStorage_GoneOnceClosed()
    {
        KernelTest.Require();
        const int Connections = 8;
        using var sender = ToaSender.Start();
        using var listener = Listen();
        var clients = new List<Socket>();
        var accepted = new List<Socket>();

        for (var i = 0; i < Connections; i++)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            clients.Add(client);
            sender.Attach(client, Options, ToaPlacement.Default, counterSlot: 1);
            Assert.True(sender.InSocketStorage(client), "attached before connect(): in socket storage");
            await client.ConnectAsync(listener.LocalEndPoint!);
            accepted.Add(await listener.AcceptAsync());
        }
        await Until(() => sender.Counts(1).Written == Connections, () => $"{sender.Counts(1)}");

        Assert.Equal(Connections, sender.ConnectionsHeld);
        Assert.All(clients, c => Assert.False(sender.InSocketStorage(c), "connected: moved out of socket storage"));
        Assert.All(clients, c =>
        {
            var report = sender.Report(c);
            Assert.Equal(ToaPlacement.Default, report.Requested);
            Assert.Equal(ToaPlacement.Ack, report.Written);
            Assert.Equal(8, report.OptionBytes);
        });
        Assert.Equal(new ToaSendCounts(Connections, 0, 0, 0), sender.Counts(1));

        foreach (var socket in clients.Concat(accepted))
            socket.Dispose();
        await Until(() => sender.ConnectionsHeld == 0, () => $"{sender.ConnectionsHeld} entries left");
    }

    [Fact]
    public async Task Connect_Refused_EntryGoneWhileTheSocketIsStillOpen()
    {
        KernelTest.Require();
        using var sender = ToaSender.Start();
        using var refusing = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        refusing.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // bound, never listening: the SYN is answered with a RST
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        sender.Attach(client, Options, ToaPlacement.Default | ToaPlacement.Syn);

        await Assert.ThrowsAsync<SocketException>(async () => await client.ConnectAsync(refusing.LocalEndPoint!));

        await Until(() => sender.ConnectionsHeld == 0, () => $"{sender.ConnectionsHeld} entries left");
        Assert.False(sender.InSocketStorage(client));
        Assert.Equal(ToaPlacement.None, sender.Report(client).Requested);
    }

    [Fact]
    public async Task Connections_MapFull_StateStaysInSocketStorageCountedAndTheOptionStillGoes()
    {
        KernelTest.Require();
        using var sender = ToaSender.Start(connections: 1);
        using var listener = Listen();
        using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        sender.Attach(first, Options, ToaPlacement.Default, counterSlot: 2);
        sender.Attach(second, Options, ToaPlacement.Default, counterSlot: 2);

        await first.ConnectAsync(listener.LocalEndPoint!);
        using var firstAccepted = await listener.AcceptAsync();
        await second.ConnectAsync(listener.LocalEndPoint!);
        using var secondAccepted = await listener.AcceptAsync();
        await Until(() => sender.Counts(2).Written == 2, () => $"{sender.Counts(2)}");

        Assert.Equal(1, sender.ConnectionCapacity);
        Assert.Equal(1, sender.ConnectionsHeld);
        Assert.False(sender.InSocketStorage(first));
        Assert.True(sender.InSocketStorage(second), "the map was full: the state stayed in socket storage");
        Assert.Equal(1, sender.Counts(2).InStorage);
        Assert.Equal(ToaPlacement.Ack, sender.Report(first).Written);
        Assert.Equal(ToaPlacement.Ack, sender.Report(second).Written);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Report_AfterTheConnectionClosed_OnlyWhereTheStateStayed(bool reportAfterClose)
    {
        KernelTest.Require();
        using var sender = ToaSender.Start();
        using var listener = Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        sender.Attach(client, Options, ToaPlacement.Default, reportAfterClose: reportAfterClose);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using (var accepted = await listener.AcceptAsync())
        {
            await client.SendAsync("x"u8.ToArray());
            Assert.Equal(1, await accepted.ReceiveAsync(new byte[1]));
            Assert.Equal(reportAfterClose ? 0 : 1, sender.ConnectionsHeld);
            Assert.Equal(reportAfterClose, sender.InSocketStorage(client));
            // Both ends close: the client's socket, still open, goes through TIME_WAIT to TCP_CLOSE.
            accepted.Shutdown(SocketShutdown.Send);
            Assert.Equal(0, await client.ReceiveAsync(new byte[1]));
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal(0, await accepted.ReceiveAsync(new byte[1]));
        }
        await Until(() => sender.ConnectionsHeld == 0, () => $"{sender.ConnectionsHeld} entries left");

        var report = sender.Report(client);

        Assert.Equal(reportAfterClose ? ToaPlacement.Default : ToaPlacement.None, report.Requested);
        Assert.Equal(reportAfterClose ? ToaPlacement.Default : ToaPlacement.None, report.Written);
    }

    [Fact]
    public void Start_NoConnections_Refused()
    {
        KernelTest.Require();
        Assert.Throws<ArgumentOutOfRangeException>(() => ToaSender.Start(connections: 0));
    }

    private static Socket Listen()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        return listener;
    }

    private static async Task Until(Func<bool> condition, Func<string> state)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not within {Limit}: {state()}");
            await Task.Delay(10);
        }
    }
}
