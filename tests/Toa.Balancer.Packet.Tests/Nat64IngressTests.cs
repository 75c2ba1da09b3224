// SPDX-License-Identifier: MIT
using System.Net;
using static Toa.Balancer.Packet.Tests.Frames;

namespace Toa.Balancer.Packet.Tests;

/// <summary>
/// fn_ingress on a NAT64 listener's packets (BPF_PROG_TEST_RUN): an IPv6 client's become IPv4 toward
/// the backend, with the client in 253/20 (or 254/20), and the backend's become IPv6 again.
/// </summary>
public sealed class Nat64IngressTests
{
    private const uint TcRedirect = 7, ClientIsn = 7000, BackendIsn = 9000;

    private static (IPEndPoint Client, Parsed Syn) Syn(DatapathLab lab)
    {
        var client = new IPEndPoint(lab.Client6Address, 41000);
        var (verdict, output) = lab.Run(Ipv6(client, lab.Vip6, Tcp.Syn, ClientIsn, 0, SynOptions(1440)));
        Assert.Equal(TcRedirect, verdict);
        Assert.False(IsIpv6(output), "the SYN left as IPv4");
        Assert.True(ChecksumsValid(output), "the translated SYN's checksums");
        return (client, Parse(output));
    }

    [Fact]
    public void Syn_ToNat64Listener_BecomesIpv4FromSnatToTheBackend()
    {
        using var lab = new DatapathLab(mss: 1380);

        var (_, syn) = Syn(lab);

        Assert.Equal(lab.Snat, syn.Source.Address);
        Assert.InRange(syn.Source.Port, DatapathLab.PortMin, DatapathLab.PortMax);
        Assert.Equal(lab.Backend, syn.Destination);
        Assert.Equal((ushort)1380, Mss(syn.Options));
        Assert.Equal(1, lab.Count(PacketAbi.Counter.Connections, DatapathLab.Nat64ListenerId));
        var forward = lab.Datapath.Flows().Single(f => (f.Value.Flags & PacketAbi.ConnForward) != 0).Value;
        Assert.Equal(PacketAbi.ConnNat64, forward.Flags & PacketAbi.ConnNat64);
    }

    [Fact]
    public void SynAck_FromBackend_BecomesIpv6FromTheListenerToTheClient()
    {
        using var lab = new DatapathLab();
        var (client, syn) = Syn(lab);

        var (verdict, output) = lab.Run(Ipv4(lab.Backend, syn.Source, Tcp.Syn | Tcp.Ack, BackendIsn, ClientIsn + 1, SynOptions(1460)));

        Assert.Equal(TcRedirect, verdict);
        Assert.True(IsIpv6(output), "the SYN-ACK left as IPv6");
        Assert.True(ChecksumsValid(output), "the translated SYN-ACK's checksums");
        var synAck = Parse(output);
        Assert.Equal((lab.Vip6, client), (synAck.Source, synAck.Destination));
        Assert.Equal((BackendIsn, ClientIsn + 1), (synAck.Seq, synAck.Ack));
    }

    [Theory]
    [InlineData((byte)PacketAbi.ToaFormat.Tencent, 253)]
    [InlineData((byte)PacketAbi.ToaFormat.Dpvs, 254)]
    public void HandshakeAck_OfNat64Client_CarriesItsAddressInA20ByteToa(byte format, byte kind)
    {
        using var lab = new DatapathLab(toa: (PacketAbi.ToaFormat)format);
        var (client, syn) = Syn(lab);
        lab.Run(Ipv4(lab.Backend, syn.Source, Tcp.Syn | Tcp.Ack, BackendIsn, ClientIsn + 1, SynOptions(1460)));

        var (verdict, output) = lab.Run(Ipv6(client, lab.Vip6, Tcp.Ack, ClientIsn + 1, BackendIsn + 1, TimestampOptions));

        Assert.Equal(TcRedirect, verdict);
        Assert.False(IsIpv6(output));
        Assert.True(ChecksumsValid(output), "the translated ACK's checksums");
        var ack = Parse(output);
        Assert.Equal((syn.Source, lab.Backend), (ack.Source, ack.Destination));
        byte[] toa = [kind, 20, (byte)(client.Port >> 8), (byte)client.Port, .. client.Address.GetAddressBytes()];
        Assert.Equal([.. TimestampOptions, .. toa], ack.Options);
        Assert.Equal(Ipv4Length + 20 + 12 + 20, ack.IpLength);
    }
}
