// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;

namespace Toa.Diagnostics.Tests.Capture;

/// <summary>Writes classic pcap files of Ethernet frames carrying TCP, for tests.</summary>
internal static class PcapWriter
{
    public static void Write(string path, IEnumerable<byte[]> frames)
    {
        using var file = File.Create(path);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xa1b2c3d4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 1); // Ethernet
        file.Write(header);
        var second = 1_700_000_000u;
        Span<byte> record = stackalloc byte[16];
        foreach (var frame in frames)
        {
            record.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(record, second++);
            BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)frame.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)frame.Length);
            file.Write(record);
            file.Write(frame);
        }
    }

    /// <summary>An Ethernet + IPv4 + TCP frame (checksums left zero: readers do not check them).</summary>
    public static byte[] Ipv4Tcp(IPEndPoint from, IPEndPoint to, byte flags, byte[] options, int payload = 0)
    {
        var tcpLength = 20 + options.Length;
        var frame = new byte[14 + 20 + tcpLength + payload];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        var ip = frame.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + tcpLength + payload));
        ip[8] = 64;
        ip[9] = 6;
        from.Address.GetAddressBytes().CopyTo(ip[12..]);
        to.Address.GetAddressBytes().CopyTo(ip[16..]);
        var tcp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, (ushort)from.Port);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], (ushort)to.Port);
        tcp[12] = (byte)((tcpLength / 4) << 4);
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 512);
        options.CopyTo(tcp[20..]);
        return frame;
    }
}
