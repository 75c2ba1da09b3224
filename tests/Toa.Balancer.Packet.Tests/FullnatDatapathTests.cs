// SPDX-License-Identifier: MIT
using System.Net;
using Microsoft.Extensions.Logging.Testing;
using Toa.Bpf;
using Toa.Testing;
using static Toa.Balancer.Packet.Tests.Frames;

namespace Toa.Balancer.Packet.Tests;

/// <summary>The datapath's life: pins that a second process reuses, tc filters replaced in place, removal.</summary>
public sealed class FullnatDatapathTests
{
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Open_SecondTimeOnTheSameDirectory_SeesTheFirstOnesConnections()
    {
        using var lab = new DatapathLab();
        lab.Run(Ipv4(new IPEndPoint(lab.ClientAddress, 40000), lab.Vip, Tcp.Syn, 1, 0, SynOptions(1460)));

        using var second = FullnatDatapath.Open(lab.PinDirectory, 1024);

        Assert.Equal(2, second.Flows().Count());
        Assert.Equal(1, second.ListenerCounts(DatapathLab.ListenerId)[(int)PacketAbi.Counter.Connections]);
        foreach (var name in FullnatDatapath.MapNames)
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(lab.PinDirectory, name)));
    }

    [Fact]
    public void Flows_MoreEntriesThanABatch_EachReadOnce()
    {
        using var lab = new DatapathLab(maxFlows: 4096);
        using var flows = BpfMap.OpenPinned(Path.Combine(lab.PinDirectory, PacketAbi.FlowsMap));
        for (ushort port = 1; port <= 2500; port++)
            flows.Update(new PacketAbi.Flow { SPort = port, Family = PacketAbi.AfInet }, new PacketAbi.Conn { Backend = port });

        var read = lab.Datapath.Flows().ToList();

        Assert.Equal(2500, read.Count);
        Assert.Equal(2500, read.Select(e => e.Key.SPort).Distinct().Count());
        Assert.All(read, e => Assert.Equal(e.Key.SPort, (ushort)e.Value.Backend));
    }

    [Fact]
    public void DeleteFlows_SomeAlreadyGone_DeletesTheRestInOneCall()
    {
        using var lab = new DatapathLab(maxFlows: 4096);
        using var flows = BpfMap.OpenPinned(Path.Combine(lab.PinDirectory, PacketAbi.FlowsMap));
        static PacketAbi.Flow Key(int port) => new() { SPort = (ushort)port, Family = PacketAbi.AfInet };
        for (var port = 1; port <= 2000; port++)
            flows.Update(Key(port), new PacketAbi.Conn());
        // The datapath deletes entries too (a port taken over): some keys are gone by the time they are deleted.
        foreach (var port in new[] { 1, 700, 701, 1500 })
            flows.Delete(Key(port));
        var doomed = Enumerable.Range(1, 1500).Select(Key).ToArray();
        var answers = new bool[doomed.Length];

        var deleted = lab.Datapath.DeleteFlows(doomed, answers);

        Assert.Equal(1496, deleted);
        Assert.Equal([0, 699, 700, 1499], Enumerable.Range(0, answers.Length).Where(i => !answers[i]));
        Assert.Equal(Enumerable.Range(1501, 500), lab.Datapath.Flows().Select(e => (int)e.Key.SPort).Order());
    }

    [Fact]
    public void SetTable_WritesEverySlotOfItsRegionOnly()
    {
        using var lab = new DatapathLab();
        using var tables = BpfMap.OpenPinned(Path.Combine(lab.PinDirectory, PacketAbi.TablesMap));
        var slots = Enumerable.Range(0, PacketAbi.TableSize).Select(i => (uint)(i % 5)).ToArray();

        lab.Datapath.SetTable(2, slots);

        uint Slot(uint key) => tables.TryLookup(key, out uint value) ? value : uint.MaxValue;
        var start = 2u * PacketAbi.TableSize;
        Assert.Equal(slots, Enumerable.Range(0, PacketAbi.TableSize).Select(i => Slot(start + (uint)i)));
        Assert.Equal(0u, Slot(start + PacketAbi.TableSize)); // region 3 untouched
        Assert.Equal(DatapathLab.BackendIndex, Slot(DatapathLab.Region * PacketAbi.TableSize));
    }

    [Fact]
    public void QueryAndDetach_InterfaceWithoutClsact_AnswerNothingAndLogNothing()
    {
        // libbpf reports a missing qdisc as a kernel error; here it is only the answer "not attached".
        using var lab = new DatapathLab();
        var logger = new FakeLogger();
        var previous = LibBpfLog.Logger;
        LibBpfLog.Logger = logger;
        try
        {
            var (query, detached) = lab.Balancer.Enter(() =>
            {
                var ifindex = TcHook.Interfaces().First(i => i != 1);
                return (FullnatDatapath.Hook.Query(ifindex), FullnatDatapath.Hook.Detach(ifindex));
            });

            Assert.Null(query);
            Assert.False(detached);
            Assert.Empty(logger.Collector.GetSnapshot());
        }
        finally
        {
            LibBpfLog.Logger = previous;
        }
    }

    [Fact]
    public void Attach_BySecondDatapath_ReplacesTheFilterInPlace_AndDetachRemovesIt()
    {
        using var lab = new DatapathLab();
        using var second = FullnatDatapath.Open(lab.PinDirectory, 1024);
        var ifindex = lab.Balancer.Enter(() => TcHook.Interfaces().First(i => i != 1));

        var (first, replaced, attached, detached) = lab.Balancer.Enter(() =>
        {
            lab.Datapath.Attach(ifindex);
            var first = FullnatDatapath.Hook.Query(ifindex);
            second.Attach(ifindex);
            var replaced = FullnatDatapath.Hook.Query(ifindex);
            var attached = second.Attached;
            second.Detach(ifindex);
            return (first, replaced, attached, lab.Datapath.Attached);
        });

        Assert.Equal(lab.Datapath.Program.Info.Id, first);
        Assert.Equal(second.Program.Info.Id, replaced);
        Assert.Equal([ifindex], attached);
        Assert.Empty(detached);
    }

    [Fact]
    public void Remove_DirectoriesItLeavesEmpty_GoToo()
    {
        KernelTest.Require("root and BPF");
        // As the engine's own /sys/fs/bpf/toa/fullnat/INODE: two levels made for it.
        var top = $"/sys/fs/bpf/toa-tests-remove-{Environment.ProcessId}";
        var pins = Path.Combine(top, "fullnat", "1");
        try
        {
            FullnatDatapath.Open(pins, maxFlows: 16).Dispose();
            Directory.CreateDirectory(Path.Combine(top, "other"));

            FullnatDatapath.Remove(pins, []);

            Assert.False(Directory.Exists(Path.Combine(top, "fullnat")));
            Assert.True(Directory.Exists(Path.Combine(top, "other"))); // still in use: stays

            Directory.Delete(Path.Combine(top, "other"));
            Directory.CreateDirectory(pins);
            FullnatDatapath.Remove(pins, []);
            Assert.False(Directory.Exists(top));
        }
        finally
        {
            if (Directory.Exists(top))
                Directory.Delete(top, recursive: true);
        }
    }

    [Fact]
    public void Remove_TakesThePinsAndTheFilterAway()
    {
        using var lab = new DatapathLab();
        var ifindex = lab.Balancer.Enter(() => TcHook.Interfaces().First(i => i != 1));
        lab.Balancer.Enter(() =>
        {
            lab.Datapath.Attach(ifindex);
            FullnatDatapath.Remove(lab.PinDirectory, [ifindex]);
            return 0;
        });

        Assert.False(Directory.Exists(lab.PinDirectory));
        Assert.Empty(lab.Balancer.Enter(() => lab.Datapath.Attached));
    }
}
