// SPDX-License-Identifier: MIT
using System.Net;
using static Toa.Balancer.Packet.Tests.Frames;

namespace Toa.Balancer.Packet.Tests;

/// <summary>
/// fn_ingress run by BPF_PROG_TEST_RUN on crafted frames inside a balancer's namespace: what it makes
/// of a connection's packets each way, checked with checksums computed here.
/// </summary>
public sealed class FullnatIngressTests
{
    private const uint TcOk = 0, TcShot = 2, TcRedirect = 7;
    private const uint ClientIsn = 1000, BackendIsn = 5000;
    private static readonly byte[] Request = [.. Enumerable.Range(0, 100).Select(i => (byte)i)];

    /// <summary>A connection opened through the datapath: the SNAT port it got.</summary>
    private sealed record Opened(IPEndPoint Client, IPEndPoint SnatEnd, Parsed Syn);

    private static Opened Syn(DatapathLab lab, int clientPort = 40000, ushort mss = 1460)
    {
        var client = new IPEndPoint(lab.ClientAddress, clientPort);
        var (verdict, output) = lab.Run(Ipv4(client, lab.Vip, Tcp.Syn, ClientIsn, 0, SynOptions(mss)));
        Assert.Equal(TcRedirect, verdict);
        Assert.True(ChecksumsValid(output), "the rewritten SYN's checksums");
        var syn = Parse(output);
        return new Opened(client, syn.Source, syn);
    }

    private static Parsed SynAck(DatapathLab lab, Opened c, ushort mss = 1460)
    {
        var (verdict, output) = lab.Run(Ipv4(lab.Backend, c.SnatEnd, Tcp.Syn | Tcp.Ack, BackendIsn, ClientIsn + 1, SynOptions(mss)));
        Assert.Equal(TcRedirect, verdict);
        Assert.True(ChecksumsValid(output), "the rewritten SYN-ACK's checksums");
        return Parse(output);
    }

    private static Parsed FromClient(DatapathLab lab, Opened c, uint seq, byte[] options, byte[]? payload = null, Tcp flags = Tcp.Ack)
    {
        var (verdict, output) = lab.Run(Ipv4(c.Client, lab.Vip, flags, seq, BackendIsn + 1, options, payload));
        Assert.Equal(TcRedirect, verdict);
        Assert.True(ChecksumsValid(output), "the rewritten client segment's checksums");
        return Parse(output);
    }

    private static byte[] Toa200(IPEndPoint client) =>
        [200, 8, (byte)(client.Port >> 8), (byte)client.Port, .. client.Address.GetAddressBytes()];

    [Fact]
    public void Syn_ToVip_CreatesBothEntriesAndIsRewrittenTowardTheBackend()
    {
        using var lab = new DatapathLab();

        var c = Syn(lab);

        Assert.Equal(lab.Snat, c.SnatEnd.Address);
        Assert.InRange(c.SnatEnd.Port, DatapathLab.PortMin, DatapathLab.PortMax);
        Assert.Equal(lab.Backend, c.Syn.Destination);
        Assert.Equal((Tcp.Syn, ClientIsn), (c.Syn.Flags, c.Syn.Seq));
        Assert.Equal((ushort)1400, Mss(c.Syn.Options));
        var flows = lab.Datapath.Flows().ToDictionary(f => (DatapathLab.Source(f.Key), DatapathLab.Destination(f.Key)), f => f.Value);
        Assert.Equal(2, flows.Count);
        var forward = flows[(c.Client, lab.Vip)];
        Assert.Equal(PacketAbi.ConnForward, forward.Flags & PacketAbi.ConnForward);
        Assert.Equal(PacketAbi.State.Syn, forward.State);
        Assert.Equal((c.SnatEnd, lab.Backend), (DatapathLab.Source(forward.Rewrite), DatapathLab.Destination(forward.Rewrite)));
        var reverse = flows[(lab.Backend, c.SnatEnd)];
        Assert.Equal(0, reverse.Flags & PacketAbi.ConnForward);
        Assert.Equal((lab.Vip, c.Client), (DatapathLab.Source(reverse.Rewrite), DatapathLab.Destination(reverse.Rewrite)));
        Assert.Equal(1, lab.Count(PacketAbi.Counter.Connections));
        Assert.Equal(1UL, lab.Datapath.BackendCounts(DatapathLab.BackendIndex).Connections);
    }

    [Fact]
    public void SynAck_FromBackend_IsRewrittenToVipAndClientWithMssClamped()
    {
        using var lab = new DatapathLab(mss: 1400);
        var c = Syn(lab);

        var synAck = SynAck(lab, c, mss: 1460);

        Assert.Equal((lab.Vip, c.Client), (synAck.Source, synAck.Destination));
        Assert.Equal((ushort)1400, Mss(synAck.Options));
        Assert.Equal(2, lab.Count(PacketAbi.Counter.MssClamped)); // the SYN's and the SYN-ACK's
        var forward = lab.Datapath.Flows().Single(f => (f.Value.Flags & PacketAbi.ConnForward) != 0).Value;
        Assert.Equal(PacketAbi.State.Established, forward.State);
        Assert.Equal((1, 1), (lab.Count(PacketAbi.Counter.PacketsIn), lab.Count(PacketAbi.Counter.PacketsOut)));
        var frame = EthLength + Ipv4Length + 20 + 20; // both carry 20 bytes of options
        Assert.Equal((frame, frame), (lab.Count(PacketAbi.Counter.BytesIn), lab.Count(PacketAbi.Counter.BytesOut)));
        var backend = lab.Datapath.BackendCounts(DatapathLab.BackendIndex);
        Assert.Equal(((ulong)frame, (ulong)frame), (backend.BytesIn, backend.BytesOut));
    }

    [Theory]
    [InlineData((byte)PacketAbi.ToaFormat.Tencent, 200)]
    [InlineData((byte)PacketAbi.ToaFormat.Dpvs, 254)]
    public void HandshakeAck_GetsAnIpv4ToaWithTheClientAndValidChecksums(byte format, byte kind)
    {
        using var lab = new DatapathLab(toa: (PacketAbi.ToaFormat)format);
        var c = Syn(lab);
        SynAck(lab, c);

        var ack = FromClient(lab, c, ClientIsn + 1, TimestampOptions);

        Assert.Equal((c.SnatEnd, lab.Backend), (ack.Source, ack.Destination));
        Assert.Equal([.. TimestampOptions, kind, .. Toa200(c.Client)[1..]], ack.Options);
        Assert.Empty(ack.Payload);
        Assert.Equal(Ipv4Length + 20 + 12 + 8, ack.IpLength);
        Assert.Equal(1, lab.Count(PacketAbi.Counter.ToaWritten));
    }

    [Fact]
    public void Data_GetsToaUntilTheBackendAcknowledgesIt()
    {
        using var lab = new DatapathLab();
        var c = Syn(lab);
        SynAck(lab, c);
        FromClient(lab, c, ClientIsn + 1, TimestampOptions);

        var first = FromClient(lab, c, ClientIsn + 1, TimestampOptions, Request, Tcp.Ack | Tcp.Psh);
        var (verdict, _) = lab.Run(Ipv4(lab.Backend, c.SnatEnd, Tcp.Ack, BackendIsn + 1, ClientIsn + 1 + (uint)Request.Length, TimestampOptions));
        var second = FromClient(lab, c, ClientIsn + 1 + (uint)Request.Length, TimestampOptions, Request, Tcp.Ack | Tcp.Psh);

        Assert.Equal([.. TimestampOptions, .. Toa200(c.Client)], first.Options);
        Assert.Equal(Request, first.Payload);
        Assert.Equal(TcRedirect, verdict);
        Assert.Equal(TimestampOptions, second.Options);
        Assert.Equal(Request, second.Payload);
        Assert.Equal(2, lab.Count(PacketAbi.Counter.ToaWritten));
        var forward = lab.Datapath.Flows().Single(f => (f.Value.Flags & PacketAbi.ConnForward) != 0).Value;
        Assert.Equal(PacketAbi.ConnToaDone, forward.Flags & PacketAbi.ConnToaDone);
    }

    [Fact]
    public void ClientSentToa_BecomesNopsAndOnlyTheBalancersReachesTheBackend()
    {
        using var lab = new DatapathLab();
        var c = Syn(lab);
        SynAck(lab, c);
        byte[] forged = [200, 8, 0x1f, 0x90, 1, 2, 3, 4, .. TimestampOptions];

        var ack = FromClient(lab, c, ClientIsn + 1, forged);

        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1, .. TimestampOptions, .. Toa200(c.Client)], ack.Options);
        Assert.Equal(1, lab.Count(PacketAbi.Counter.ToaRemoved));
    }

    [Fact]
    public void Ack_WithAnEndOfOptionList_HasItTurnedIntoNopsSoTheToaAfterItIsRead()
    {
        using var lab = new DatapathLab();
        var c = Syn(lab);
        SynAck(lab, c);

        var ack = FromClient(lab, c, ClientIsn + 1, [.. TimestampOptions, 0, 0, 0, 0]);

        Assert.Equal([.. TimestampOptions, 1, 1, 1, 1, .. Toa200(c.Client)], ack.Options);
        Assert.Equal(0, lab.Count(PacketAbi.Counter.ToaRemoved));
    }

    [Fact]
    public void Ack_WithNoRoomForToa_GoesWithoutAndIsCounted()
    {
        using var lab = new DatapathLab();
        var c = Syn(lab);
        SynAck(lab, c);
        byte[] full = [.. Enumerable.Repeat((byte)1, 28), .. TimestampOptions]; // 40 bytes of options

        var ack = FromClient(lab, c, ClientIsn + 1, full);

        Assert.Equal(full, ack.Options);
        Assert.Equal(1, lab.Count(PacketAbi.Counter.ToaNoRoom));
    }

    [Fact]
    public void Syn_ListenerWithoutBackends_IsDroppedAndCounted()
    {
        using var lab = new DatapathLab(backends: 0);

        var (verdict, _) = lab.Run(Ipv4(new IPEndPoint(lab.ClientAddress, 40000), lab.Vip, Tcp.Syn, ClientIsn, 0, SynOptions(1460)));

        Assert.Equal(TcShot, verdict);
        Assert.Equal(1, lab.Count(PacketAbi.Counter.NoBackend));
        Assert.Empty(lab.Datapath.Flows());
    }

    [Fact]
    public void Syn_FlowTableFull_IsDroppedAndCountedWhileTheOpenConnectionGoesOn()
    {
        using var lab = new DatapathLab(maxFlows: 2);
        var c = Syn(lab, clientPort: 40000);

        var (verdict, _) = lab.Run(Ipv4(new IPEndPoint(lab.ClientAddress, 40001), lab.Vip, Tcp.Syn, ClientIsn, 0, SynOptions(1460)));
        var synAck = SynAck(lab, c);

        Assert.Equal(TcShot, verdict);
        Assert.Equal(1, lab.Count(PacketAbi.Counter.TableFull));
        Assert.Equal(2, lab.Datapath.Flows().Count());
        Assert.Equal(c.Client, synAck.Destination);
    }

    [Fact]
    public void HandshakeAck_ListenerWithoutToa_GoesWithout()
    {
        using var lab = new DatapathLab(toa: PacketAbi.ToaFormat.None);
        var c = Syn(lab);
        SynAck(lab, c);

        var ack = FromClient(lab, c, ClientIsn + 1, TimestampOptions);

        Assert.Equal(TimestampOptions, ack.Options);
        Assert.Equal(0, lab.Count(PacketAbi.Counter.ToaWritten) + lab.Count(PacketAbi.Counter.ToaNoRoom));
    }

    [Fact]
    public void Packet_NotToAListenerNorOfAFlow_PassesUntouched()
    {
        using var lab = new DatapathLab();
        var frame = Ipv4(new IPEndPoint(lab.ClientAddress, 40000), new IPEndPoint(lab.Vip.Address, 22), Tcp.Syn, ClientIsn, 0, SynOptions(1460));

        var (verdict, output) = lab.Run(frame);

        Assert.Equal(TcOk, verdict);
        Assert.Equal(frame, output);
        Assert.Empty(lab.Datapath.Flows());
    }

    [Fact]
    public void FinAndRst_SetTheState_AndASynOnTheClosedTupleOpensAnotherConnection()
    {
        using var lab = new DatapathLab();
        var c = Syn(lab);
        SynAck(lab, c);
        FromClient(lab, c, ClientIsn + 1, TimestampOptions, flags: Tcp.Fin | Tcp.Ack);
        PacketAbi.Conn Forward() => lab.Datapath.Flows().Single(f => (f.Value.Flags & PacketAbi.ConnForward) != 0).Value;
        Assert.Equal(PacketAbi.State.Fin, Forward().State);
        lab.Run(Ipv4(lab.Backend, c.SnatEnd, Tcp.Fin | Tcp.Ack, BackendIsn + 1, ClientIsn + 2, TimestampOptions));
        Assert.Equal(PacketAbi.State.Closing, Forward().State);

        var again = Syn(lab);

        Assert.Equal(PacketAbi.State.Syn, Forward().State);
        Assert.Equal(2, lab.Datapath.Flows().Count());
        Assert.Equal(2, lab.Count(PacketAbi.Counter.Connections));
        Assert.Equal(lab.Backend, again.Syn.Destination);
    }

    [Fact]
    public void LocalPort_OfAnEndedConnection_IsTakenOverASecondAfterItsLastPacket_NotBefore()
    {
        using var lab = new DatapathLab();
        // One local port: a second connection needs the first one's.
        lab.Datapath.SetConfig(new PacketAbi.Config { PortMin = DatapathLab.PortMin, PortMax = DatapathLab.PortMin });
        var first = Syn(lab, clientPort: 40000);
        SynAck(lab, first);
        FromClient(lab, first, ClientIsn + 1, TimestampOptions, flags: Tcp.Fin | Tcp.Ack);
        lab.Run(Ipv4(lab.Backend, first.SnatEnd, Tcp.Fin | Tcp.Ack, BackendIsn + 1, ClientIsn + 2, TimestampOptions));
        var ended = Environment.TickCount64;
        var second = new IPEndPoint(lab.ClientAddress, 40001);

        // Ended just now: its last ACK may still be on its way.
        Assert.Equal(TcShot, lab.Run(Ipv4(second, lab.Vip, Tcp.Syn, ClientIsn, 0, SynOptions(1460))).Verdict);
        Assert.Equal(1, lab.Count(PacketAbi.Counter.NoPort));

        Thread.Sleep(TimeSpan.FromMilliseconds(Math.Max(0, 1100 - (Environment.TickCount64 - ended))));
        var taken = Syn(lab, clientPort: 40001);

        Assert.Equal(first.SnatEnd, taken.SnatEnd);
        Assert.Equal(1, lab.Count(PacketAbi.Counter.PortReused));
        // The ended connection's entries went with it: only the new connection's two are left.
        var flows = lab.Datapath.Flows().Select(f => (DatapathLab.Source(f.Key), DatapathLab.Destination(f.Key))).ToHashSet();
        Assert.Equal([(second, lab.Vip), (lab.Backend, first.SnatEnd)], flows);
        // A connection that has not ended keeps its port.
        Assert.Equal(TcShot, lab.Run(Ipv4(new IPEndPoint(lab.ClientAddress, 40002), lab.Vip, Tcp.Syn, ClientIsn, 0, SynOptions(1460))).Verdict);
        Assert.Equal(2, lab.Count(PacketAbi.Counter.NoPort));
    }
}
