// SPDX-License-Identifier: MIT
using System.Net;

namespace Toa.Balancer.Packet.Tests;

/// <summary>FlowSweeper: per-state timeouts over both entries of each connection.</summary>
public sealed class SweeperTests
{
    private static readonly IPEndPoint Client = IPEndPoint.Parse("198.51.100.7:40000");
    private static readonly IPEndPoint Vip = IPEndPoint.Parse("192.0.2.1:80");
    private static readonly IPEndPoint Snat = IPEndPoint.Parse("10.1.0.1:61001");
    private static readonly IPEndPoint Backend = IPEndPoint.Parse("10.1.0.11:8080");
    private static readonly TimeSpan Idle = TimeSpan.FromMinutes(10);

    private readonly FakeDatapath _datapath = new();

    private SweepResult Sweep() => FlowSweeper.Sweep(_datapath, id => id == 3 ? Idle : throw new InvalidOperationException($"listener {id}"));

    // fn_state's values (the enum is internal, xunit's theories public).
    [Theory]
    [InlineData(0, 10)]
    [InlineData(1, 600)]
    [InlineData(2, 60)]
    [InlineData(3, 10)]
    [InlineData(4, 5)]
    public void Sweep_IdleBeyondItsStatesTimeout_DeletesBothEntries(byte fnState, int seconds)
    {
        var state = (PacketAbi.State)fnState;
        _datapath.AddConnection(Client, Vip, Snat, Backend, listener: 3, backendIndex: 7, state);

        _datapath.Advance(TimeSpan.FromSeconds(seconds));
        var kept = Sweep();
        _datapath.Advance(TimeSpan.FromMilliseconds(1));
        var swept = Sweep();

        Assert.Equal(0, kept.Deleted);
        Assert.Equal(1, kept.ActivePerListener[3]);
        Assert.Equal(1, kept.ActivePerBackend[7]);
        Assert.Equal(1, swept.Deleted);
        Assert.Empty(swept.ActivePerListener);
        Assert.Empty(_datapath.FlowTable);
    }

    [Fact]
    public void Sweep_BackendSideStillSending_KeepsTheConnection()
    {
        var (_, reverse) = _datapath.AddConnection(Client, Vip, Snat, Backend, listener: 3, backendIndex: 7);
        _datapath.Advance(Idle);
        _datapath.Touch(reverse);
        _datapath.Advance(TimeSpan.FromMinutes(1));

        var result = Sweep();

        Assert.Equal(0, result.Deleted);
        Assert.Equal(2, _datapath.FlowTable.Count);
    }

    [Fact]
    public void Sweep_BackendSideEntryAlone_DeletedAfterTheSynTimeout()
    {
        var (forward, _) = _datapath.AddConnection(Client, Vip, Snat, Backend, listener: 3, backendIndex: 7);
        _datapath.FlowTable.Remove(forward);

        _datapath.Advance(TimeSpan.FromSeconds(10));
        Sweep();
        Assert.Single(_datapath.FlowTable);
        _datapath.Advance(TimeSpan.FromSeconds(1));
        var result = Sweep();

        Assert.Empty(_datapath.FlowTable);
        Assert.Empty(result.ActivePerBackend);
    }

    [Fact]
    public void Sweep_LastSeenAfterTheClock_IsNotIdle()
    {
        _datapath.AddConnection(Client, Vip, Snat, Backend, listener: 3, backendIndex: 7, PacketAbi.State.Closed);
        _datapath.Clock -= 1_000_000;

        Assert.Equal(0, Sweep().Deleted);
    }

    [Theory]
    [InlineData(0, 1000)]
    [InlineData(100, 1000)]
    [InlineData(340, 3400)]
    public void NextSweep_LongSweeps_SpaceOutToATenthOfACpu(int tookMilliseconds, int nextMilliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(nextMilliseconds), FlowSweeper.NextSweep(TimeSpan.FromMilliseconds(tookMilliseconds)));

    [Fact]
    public void Sweep_ManyConnections_CountsEachListenerAndBackend()
    {
        for (var i = 0; i < 5; i++)
            _datapath.AddConnection(new IPEndPoint(Client.Address, 40000 + i), Vip, new IPEndPoint(Snat.Address, 61000 + i), Backend, 3, (uint)(i % 2));

        var result = Sweep();

        Assert.Equal(5, result.ActivePerListener[3]);
        Assert.Equal(3, result.ActivePerBackend[0]);
        Assert.Equal(2, result.ActivePerBackend[1]);
    }

    [Fact]
    public void Sweep_PortTakenOverWhileItWalks_TheNewConnectionKeepsBothEntries()
    {
        var (oldForward, reverse) = _datapath.AddConnection(Client, Vip, Snat, Backend, listener: 3, backendIndex: 7, PacketAbi.State.Closing);
        _datapath.Advance(FlowSweeper.Closing + TimeSpan.FromSeconds(1));
        var next = new IPEndPoint(Client.Address, 40001);
        PacketAbi.Flow newForward = default;
        // The datapath gives the ended connection's port to a new client between the walk and the deletes.
        _datapath.AfterReading = () =>
        {
            _datapath.FlowTable.Remove(oldForward);
            _datapath.FlowTable.Remove(reverse);
            (newForward, var newReverse) = _datapath.AddConnection(next, Vip, Snat, Backend, listener: 3, backendIndex: 7, PacketAbi.State.Syn);
            Assert.Equal(reverse, newReverse);
        };

        var result = Sweep();

        Assert.Equal(0, result.Deleted);
        Assert.Equal([newForward, reverse], _datapath.FlowTable.Keys.ToHashSet(FlowComparer.Instance));
    }

    [Fact]
    public void Sweep_ClientTupleOpenedAgainWhileItWalks_TheNewConnectionKeepsBothEntries()
    {
        var (forward, oldReverse) = _datapath.AddConnection(Client, Vip, Snat, Backend, listener: 3, backendIndex: 7, PacketAbi.State.Closed);
        _datapath.Advance(FlowSweeper.Closed + TimeSpan.FromSeconds(1));
        var nextSnat = new IPEndPoint(Snat.Address, Snat.Port + 1);
        PacketAbi.Flow newReverse = default;
        // A new SYN on the same client tuple replaces the ended connection's entries (the same client-side key).
        _datapath.AfterReading = () =>
        {
            _datapath.FlowTable.Remove(oldReverse);
            _datapath.Advance(TimeSpan.FromMilliseconds(1));
            (_, newReverse) = _datapath.AddConnection(Client, Vip, nextSnat, Backend, listener: 3, backendIndex: 7, PacketAbi.State.Syn);
        };

        var result = Sweep();

        Assert.Equal(0, result.Deleted);
        Assert.Equal([forward, newReverse], _datapath.FlowTable.Keys.ToHashSet(FlowComparer.Instance));
    }
}
