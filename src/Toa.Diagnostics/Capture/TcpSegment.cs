// SPDX-License-Identifier: MIT
using System.Net;
using PacketDotNet;
using Toa.Wire;

namespace Toa.Diagnostics.Capture;

/// <summary>One captured TCP segment and what its options say about TOA.</summary>
/// <param name="Time">When it was captured.</param>
/// <param name="Source">Sender address and port.</param>
/// <param name="Destination">Receiver address and port.</param>
/// <param name="Flags">TCP flags as tcpdump prints them: "S", "S.", ".", "P.", "F.", "R".</param>
/// <param name="PayloadLength">Bytes of data.</param>
/// <param name="Options">The options block, scanned for TOA.</param>
public sealed record TcpSegment(DateTimeOffset Time, IPEndPoint Source, IPEndPoint Destination, string Flags, int PayloadLength, TcpOptionScan Options)
{
    /// <summary>Whether any option has a TOA kind (28, 200, 253, 254 with a TOA length), honoured or not.</summary>
    public bool MentionsToa => Options.Options.Any(o => o.Layout is not null || (ToaLayoutInfo.IsToaKind(o.Kind) && o.Type == TcpOptionType.Malformed));

    /// <summary>Parses a link-layer frame; null when it is not TCP over IPv4 or IPv6.</summary>
    public static TcpSegment? Parse(LinkLayers link, byte[] frame, DateTimeOffset time, ToaLayouts accepted)
    {
        IPPacket? ip;
        TcpPacket? tcp;
        try
        {
            // PacketDotNet parses lazily: a short frame fails when a layer is first touched.
            var packet = Packet.ParsePacket(link, frame);
            ip = packet.Extract<IPPacket>();
            tcp = packet.Extract<TcpPacket>();
            if (ip is null || tcp is null || tcp.HeaderSegment.Offset + tcp.HeaderSegment.Length > frame.Length)
                return null;
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
        var header = tcp.HeaderSegment;
        var options = header.Length > 20 ? header.Bytes.AsSpan(header.Offset + 20, header.Length - 20) : [];
        return new TcpSegment(time,
            new IPEndPoint(ip.SourceAddress, tcp.SourcePort),
            new IPEndPoint(ip.DestinationAddress, tcp.DestinationPort),
            FlagText(tcp), tcp.PayloadData?.Length ?? 0,
            TcpOptions.Scan(options, accepted));
    }

    private static string FlagText(TcpPacket tcp)
    {
        var text = (tcp.Synchronize ? "S" : "") + (tcp.Finished ? "F" : "") + (tcp.Push ? "P" : "") + (tcp.Reset ? "R" : "");
        return tcp.Acknowledgment ? text + "." : text;
    }
}
