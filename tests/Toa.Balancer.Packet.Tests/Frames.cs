// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;

namespace Toa.Balancer.Packet.Tests;

/// <summary>TCP flags as the header's 13th byte holds them.</summary>
[Flags]
public enum Tcp : byte { Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10 }

/// <summary>
/// Ethernet/IPv4/TCP frames for BPF_PROG_TEST_RUN, built and read back by hand, with checksums
/// computed here independently of the kernel's helpers (a ones'-complement sum and fold).
/// </summary>
public static class Frames
{
    public const int EthLength = 14, Ipv4Length = 20, Ipv6Length = 40;

    /// <summary>Options a Linux SYN carries: MSS, SACK permitted, timestamps, window scale (20 bytes).</summary>
    public static byte[] SynOptions(ushort mss) =>
        [2, 4, (byte)(mss >> 8), (byte)mss, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];

    /// <summary>Options of an established segment: NOP NOP timestamps (12 bytes).</summary>
    public static readonly byte[] TimestampOptions = [1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 1];

    /// <summary>An IPv6 frame (TCP right after the fixed header); options must be whole words.</summary>
    public static byte[] Ipv6(IPEndPoint src, IPEndPoint dst, Tcp flags, uint seq, uint ack,
        ReadOnlySpan<byte> options = default, ReadOnlySpan<byte> payload = default)
    {
        var v4 = Ipv4(new IPEndPoint(IPAddress.Loopback, src.Port), new IPEndPoint(IPAddress.Loopback, dst.Port), flags, seq, ack, options, payload);
        var segment = v4.AsSpan(EthLength + Ipv4Length);
        var frame = new byte[EthLength + Ipv6Length + segment.Length];
        var s = frame.AsSpan();
        v4.AsSpan(0, 12).CopyTo(s);
        BinaryPrimitives.WriteUInt16BigEndian(s[12..], 0x86dd);
        var ip = s[EthLength..];
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)segment.Length);
        ip[6] = 6;
        ip[7] = 64;
        src.Address.GetAddressBytes().CopyTo(ip[8..]);
        dst.Address.GetAddressBytes().CopyTo(ip[24..]);
        segment.CopyTo(ip[Ipv6Length..]);
        var tcp = ip[Ipv6Length..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Fold(TcpSum(frame)));
        return frame;
    }

    /// <summary>A frame from <paramref name="src"/> to <paramref name="dst"/>; options must be whole words.</summary>
    public static byte[] Ipv4(IPEndPoint src, IPEndPoint dst, Tcp flags, uint seq, uint ack,
        ReadOnlySpan<byte> options = default, ReadOnlySpan<byte> payload = default)
    {
        if (options.Length % 4 != 0)
            throw new ArgumentException("options must be whole words", nameof(options));
        var tcpLength = 20 + options.Length;
        var frame = new byte[EthLength + Ipv4Length + tcpLength + payload.Length];
        var s = frame.AsSpan();
        s[0..6].Fill(0x02);
        s[6..12].Fill(0x04);
        BinaryPrimitives.WriteUInt16BigEndian(s[12..], 0x0800);
        var ip = s[EthLength..];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(Ipv4Length + tcpLength + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 0x1234);
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 6;
        src.Address.GetAddressBytes().CopyTo(ip[12..]);
        dst.Address.GetAddressBytes().CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Fold(Sum(ip[..Ipv4Length])));
        var tcp = ip[Ipv4Length..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, (ushort)src.Port);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], (ushort)dst.Port);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], ack);
        tcp[12] = (byte)(tcpLength / 4 << 4);
        tcp[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 64240);
        options.CopyTo(tcp[20..]);
        payload.CopyTo(tcp[tcpLength..]);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Fold(TcpSum(frame)));
        return frame;
    }

    /// <summary>The ones'-complement sum of <paramref name="data"/> as 16-bit big-endian words (odd tail padded).</summary>
    public static uint Sum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        for (var i = 0; i + 1 < data.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (data.Length % 2 == 1)
            sum += (uint)data[^1] << 8;
        return sum;
    }

    /// <summary>The checksum field for <paramref name="sum"/>: folded and complemented.</summary>
    public static ushort Fold(uint sum)
    {
        while (sum > 0xffff)
            sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>Whether the frame is IPv6 (by its EtherType).</summary>
    public static bool IsIpv6(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x86dd;

    private static uint TcpSum(ReadOnlySpan<byte> frame)
    {
        var ip = frame[EthLength..];
        if (IsIpv6(frame))
        {
            var segment6 = ip.Slice(Ipv6Length, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
            return Sum(segment6, Sum(ip[8..40]) + 6 + (uint)segment6.Length);
        }
        var segment = ip[Ipv4Length..BinaryPrimitives.ReadUInt16BigEndian(ip[2..])];
        var sum = Sum(ip[12..20]) + 6 + (uint)segment.Length;
        return Sum(segment, sum);
    }

    /// <summary>Whether the IPv4 header's (if any) and the TCP segment's checksums hold.</summary>
    public static bool ChecksumsValid(ReadOnlySpan<byte> frame) =>
        (IsIpv6(frame) || Fold(Sum(frame.Slice(EthLength, Ipv4Length))) == 0) && Fold(TcpSum(frame)) == 0;

    /// <summary>A frame read back.</summary>
    public sealed record Parsed(IPEndPoint Source, IPEndPoint Destination, Tcp Flags, uint Seq, uint Ack, byte[] Options, byte[] Payload, int IpLength);

    public static Parsed Parse(ReadOnlySpan<byte> frame)
    {
        var ip = frame[EthLength..];
        if (IsIpv6(frame))
        {
            var payloadLength = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            var tcp6 = ip.Slice(Ipv6Length, payloadLength);
            var doff6 = (tcp6[12] >> 4) * 4;
            return new Parsed(
                new IPEndPoint(new IPAddress(ip[8..24]), BinaryPrimitives.ReadUInt16BigEndian(tcp6)),
                new IPEndPoint(new IPAddress(ip[24..40]), BinaryPrimitives.ReadUInt16BigEndian(tcp6[2..])),
                (Tcp)tcp6[13], BinaryPrimitives.ReadUInt32BigEndian(tcp6[4..]), BinaryPrimitives.ReadUInt32BigEndian(tcp6[8..]),
                tcp6[20..doff6].ToArray(), tcp6[doff6..].ToArray(), Ipv6Length + payloadLength);
        }
        var total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        var tcp = ip[Ipv4Length..total];
        var doff = (tcp[12] >> 4) * 4;
        return new Parsed(
            new IPEndPoint(new IPAddress(ip[12..16]), BinaryPrimitives.ReadUInt16BigEndian(tcp)),
            new IPEndPoint(new IPAddress(ip[16..20]), BinaryPrimitives.ReadUInt16BigEndian(tcp[2..])),
            (Tcp)tcp[13], BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]), BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]),
            tcp[20..doff].ToArray(), tcp[doff..].ToArray(), total);
    }

    /// <summary>The MSS option's value in <paramref name="options"/>, or null.</summary>
    public static ushort? Mss(ReadOnlySpan<byte> options)
    {
        for (var i = 0; i < options.Length;)
        {
            if (options[i] == 0)
                break;
            if (options[i] == 1)
            {
                i++;
                continue;
            }
            if (options[i] == 2 && options[i + 1] == 4)
                return BinaryPrimitives.ReadUInt16BigEndian(options[(i + 2)..]);
            i += options[i + 1];
        }
        return null;
    }
}
