// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Testing;
using Toa.Wire;

namespace Toa.Sender.Tests;

/// <summary>
/// The options ride on the socket's TCP_NODELAY setsockopt (toa_attach on the sender's cgroup);
/// the program takes only a call of struct toa_attach's length, so these also check the mirror.
/// Starting the sender moves this test process into its cgroup until the test ends.
/// </summary>
[Collection(nameof(ToaSender))]
public sealed class AttachTests
{
    private static readonly ToaAddress[] Options = [new(ToaLayout.Tencent4, IPEndPoint.Parse("203.0.113.7:4321"))];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Attach_SetsNoDelayAsAskedAndTheOptionsAreTheSockets(bool noDelay)
    {
        KernelTest.Require();
        using var sender = ToaSender.Start();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = !noDelay };

        sender.Attach(socket, Options, ToaPlacement.Default | ToaPlacement.Syn, counterSlot: 3, noDelay);

        Assert.Equal(noDelay, socket.NoDelay);
        var report = sender.Report(socket);
        Assert.Equal(ToaPlacement.Default | ToaPlacement.Syn, report.Requested);
        Assert.Equal(8, report.OptionBytes);
    }

    [Fact]
    public void PlainNoDelay_StillWorksAndAttachesNothing()
    {
        KernelTest.Require();
        using var sender = ToaSender.Start();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        socket.NoDelay = true;

        Assert.True(socket.NoDelay);
        Assert.Equal(ToaPlacement.None, sender.Report(socket).Requested);
    }

    [Fact]
    public void Attach_SlotOutOfRange_Refused()
    {
        KernelTest.Require();
        using var sender = ToaSender.Start();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.Throws<ArgumentOutOfRangeException>(() => sender.Attach(socket, Options, ToaPlacement.Default, sender.CounterSlots));
    }
}
