// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Diagnostics.Capture;
using Toa.Wire;

namespace Toa.Cli.Doctor;

/// <summary>A TOA-kind option in one of the client's first packets.</summary>
/// <param name="Packet">Which packet: the SYN, the handshake ACK, an ACK, the first data.</param>
/// <param name="Option">The option, decoded with every layout accepted.</param>
internal sealed record SeenOption(string Packet, TcpOption Option);

/// <summary>One connection seen in a capture, from the server's side.</summary>
internal sealed class CapturedConnection(IPEndPoint client, IPEndPoint server)
{
    /// <summary>The peer as the server's kernel sees it: the load balancer or its SNAT address.</summary>
    public IPEndPoint Client { get; } = client;

    /// <summary>The server's end.</summary>
    public IPEndPoint Server { get; } = server;

    /// <summary>Whether the handshake began during the capture (else there is too little to judge).</summary>
    public bool SawSyn { get; set; }

    /// <summary>Whether the ACK completing the handshake was seen.</summary>
    public bool SawHandshakeAck { get; set; }

    /// <summary>Whether the client's first data was seen: the last packet a receiver reads a TOA from.</summary>
    public bool SawData { get; set; }

    /// <summary>Whether a FIN or RST was seen: the socket, and its record, may be gone.</summary>
    public bool Closed { get; set; }

    /// <summary>TOA-kind options of the client's packets, up to its first data.</summary>
    public List<SeenOption> Options { get; } = [];

    /// <summary>The first TOA with an address, if any.</summary>
    public SeenOption? Toa => Options.FirstOrDefault(o => o.Option.Address is not null);

    /// <summary>
    /// Sorts <paramref name="segments"/> into connections. With a port, the server is the
    /// end on that port; without, the end a SYN went to (connections begun earlier are left out).
    /// </summary>
    public static IReadOnlyList<CapturedConnection> Group(IEnumerable<TcpSegment> segments, int? port)
    {
        var connections = new Dictionary<(IPEndPoint, IPEndPoint), CapturedConnection>();
        var ordered = new List<CapturedConnection>();
        foreach (var s in segments)
        {
            var isSyn = s.Flags.Contains('S');
            var toServer = port is { } p ? s.Destination.Port == p
                : isSyn ? !s.Flags.Contains('.') : connections.ContainsKey((s.Source, s.Destination));
            var key = toServer ? (s.Source, s.Destination) : (s.Destination, s.Source);
            if (!connections.TryGetValue(key, out var c))
            {
                if (port is null && !(toServer && isSyn) || port is { } q && key.Item2.Port != q)
                    continue;
                c = connections[key] = new CapturedConnection(key.Item1, key.Item2);
                ordered.Add(c);
            }
            if (s.Flags.Contains('F') || s.Flags.Contains('R'))
                c.Closed = true;
            if (toServer)
                c.Observe(s, isSyn);
        }
        return ordered;
    }

    private void Observe(TcpSegment s, bool isSyn)
    {
        if (SawData)
            return;
        if (isSyn)
            SawSyn = true;
        var packet = isSyn ? "SYN" : s.PayloadLength > 0 ? "first data" : SawHandshakeAck ? "ACK" : "handshake ACK";
        if (!isSyn && SawSyn && s.PayloadLength == 0)
            SawHandshakeAck = true;
        if (s.PayloadLength > 0)
            SawData = true;
        foreach (var option in s.Options.Options)
            if (option.Layout is not null || (ToaLayoutInfo.IsToaKind(option.Kind) && option.Type == TcpOptionType.Malformed))
                Options.Add(new SeenOption(packet, option));
    }
}
