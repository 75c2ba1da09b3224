// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Toa.Wire;

/// <summary>What a PROXY protocol header says (HAProxy's <c>doc/proxy-protocol.txt</c>, versions 1 and 2).</summary>
/// <param name="Version">1 (text) or 2 (binary).</param>
/// <param name="Source">
/// The client, or null when the header gives no TCP address: v2's LOCAL command (a health check from
/// the balancer itself), UNSPEC, UDP or Unix families, or v1's UNKNOWN. The connection's own peer
/// then stands, as the specification asks.
/// </param>
/// <param name="Destination">The address the client connected to, null with <paramref name="Source"/>.</param>
public readonly record struct ProxyHeader(int Version, IPEndPoint? Source, IPEndPoint? Destination);

/// <summary>How far a buffer got toward a PROXY header.</summary>
public enum ProxyParseStatus
{
    /// <summary>A whole header: <see cref="ProxyParseResult.Length"/> bytes of it.</summary>
    Complete,
    /// <summary>What there is could start a header: read more bytes and parse again from the start.</summary>
    Incomplete,
    /// <summary>No valid header can start with these bytes: <see cref="ProxyParseResult.Error"/> says why.</summary>
    Invalid,
}

/// <summary>The outcome of <see cref="ProxyProtocol.TryParse"/>.</summary>
/// <param name="Status">Complete, incomplete or invalid.</param>
/// <param name="Header">The header, when complete.</param>
/// <param name="Length">How many bytes the header took, when complete; the application's bytes follow.</param>
/// <param name="Error">Why the bytes were refused, when invalid.</param>
public readonly record struct ProxyParseResult(ProxyParseStatus Status, ProxyHeader Header, int Length, string? Error)
{
    internal static readonly ProxyParseResult More = new(ProxyParseStatus.Incomplete, default, 0, null);

    internal static ProxyParseResult Refuse(string error) => new(ProxyParseStatus.Invalid, default, 0, error);
}

/// <summary>
/// The PROXY protocol: one writer (version 2, what the balancer sends) and one parser (versions 1
/// and 2, what servers accept). A listener either expects a header or does not: nothing here
/// guesses whether one comes.
/// </summary>
public static class ProxyProtocol
{
    /// <summary>Version 2's fixed part: signature, version and command, family and transport, length.</summary>
    public const int V2FixedLength = 16;

    /// <summary>The longest version 1 line, CRLF included.</summary>
    public const int V1MaxLength = 107;

    /// <summary>The longest header either version can have.</summary>
    public const int MaxLength = V2FixedLength + ushort.MaxValue;

    private const byte Version2 = 0x20;
    private const byte CommandLocal = 0x0;
    private const byte CommandProxy = 0x1;
    private const byte FamilyUnspec = 0x0, FamilyInet = 0x1, FamilyInet6 = 0x2, FamilyUnix = 0x3;
    private const byte TransportUnspec = 0x0, TransportStream = 0x1, TransportDgram = 0x2;
    private const int Inet4AddressLength = 12, Inet6AddressLength = 36, UnixAddressLength = 216;

    /// <summary>Version 2's 12-byte signature.</summary>
    public static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    /// <summary>
    /// The length of the version 2 header <see cref="WriteV2"/> writes: 28 bytes when both
    /// addresses are IPv4, 52 otherwise.
    /// </summary>
    public static int V2Length(IPEndPoint source, IPEndPoint destination) =>
        V2FixedLength + (BothIpv4(source, destination) ? Inet4AddressLength : Inet6AddressLength);

    /// <summary>
    /// Writes a version 2 PROXY/TCP header for a client <paramref name="source"/> that connected to
    /// <paramref name="destination"/>; returns its length. When one address is IPv6 both are written
    /// as IPv6 (an IPv4 one mapped, <c>::ffff:a.b.c.d</c>), since a header has one family.
    /// </summary>
    public static int WriteV2(Span<byte> destinationBuffer, IPEndPoint source, IPEndPoint destination)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        var length = V2Length(source, destination);
        if (destinationBuffer.Length < length)
            throw new ArgumentException($"the header takes {length} bytes", nameof(destinationBuffer));
        var v4 = length == V2FixedLength + Inet4AddressLength;
        var addressSize = v4 ? 4 : 16;
        V2Signature.CopyTo(destinationBuffer);
        destinationBuffer[12] = Version2 | CommandProxy;
        destinationBuffer[13] = (byte)((v4 ? FamilyInet : FamilyInet6) << 4 | TransportStream);
        BinaryPrimitives.WriteUInt16BigEndian(destinationBuffer[14..], (ushort)(length - V2FixedLength));
        var body = destinationBuffer[V2FixedLength..];
        WriteAddress(body, source.Address, v4);
        WriteAddress(body[addressSize..], destination.Address, v4);
        BinaryPrimitives.WriteUInt16BigEndian(body[(2 * addressSize)..], (ushort)source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(body[(2 * addressSize + 2)..], (ushort)destination.Port);
        return length;
    }

    /// <summary>
    /// A version 2 LOCAL header: a connection the balancer makes on its own behalf (a health
    /// check), for which the receiver keeps the connection's own peer.
    /// </summary>
    public static ReadOnlySpan<byte> V2Local => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, Version2 | CommandLocal, 0, 0, 0];

    /// <summary>
    /// Parses the PROXY header at the start of <paramref name="data"/>, version 1 or 2. Never throws:
    /// bytes that cannot begin a header are <see cref="ProxyParseStatus.Invalid"/>, a prefix of one
    /// is <see cref="ProxyParseStatus.Incomplete"/>.
    /// </summary>
    public static ProxyParseResult TryParse(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
            return ProxyParseResult.More;
        if (data[0] == V2Signature[0])
            return ParseV2(data);
        if (data[0] == V1Prefix[0])
            return ParseV1(data);
        return ProxyParseResult.Refuse("no PROXY protocol signature");
    }

    private static ProxyParseResult ParseV2(ReadOnlySpan<byte> data)
    {
        var signature = V2Signature;
        var compared = Math.Min(data.Length, signature.Length);
        if (!data[..compared].SequenceEqual(signature[..compared]))
            return ProxyParseResult.Refuse("no PROXY protocol signature");
        if (data.Length < V2FixedLength)
            return ProxyParseResult.More;
        if ((data[12] & 0xF0) != Version2)
            return ProxyParseResult.Refuse($"version {data[12] >> 4}, not 2");
        var command = data[12] & 0x0F;
        if (command > CommandProxy)
            return ProxyParseResult.Refuse($"command {command}, neither LOCAL nor PROXY");
        int family = data[13] >> 4, transport = data[13] & 0x0F;
        if (family > FamilyUnix || transport > TransportDgram)
            return ProxyParseResult.Refuse($"family and transport 0x{data[13]:x2}");
        var bodyLength = BinaryPrimitives.ReadUInt16BigEndian(data[14..]);
        var needed = family switch
        {
            FamilyInet => Inet4AddressLength,
            FamilyInet6 => Inet6AddressLength,
            FamilyUnix => UnixAddressLength,
            _ => 0,
        };
        // LOCAL may carry anything: its addresses are ignored.
        if (command == CommandProxy && bodyLength < needed)
            return ProxyParseResult.Refuse($"length {bodyLength} is short of the {needed} address bytes");
        var length = V2FixedLength + bodyLength;
        if (data.Length < length)
            return ProxyParseResult.More;
        var body = data[V2FixedLength..length];
        var tcp = command == CommandProxy && transport == TransportStream && family is FamilyInet or FamilyInet6;
        if (!tcp)
            return new(ProxyParseStatus.Complete, new ProxyHeader(2, null, null), length, null);
        var size = family == FamilyInet ? 4 : 16;
        var source = new IPAddress(body[..size]);
        var destination = new IPAddress(body.Slice(size, size));
        var sourcePort = BinaryPrimitives.ReadUInt16BigEndian(body[(2 * size)..]);
        var destinationPort = BinaryPrimitives.ReadUInt16BigEndian(body[(2 * size + 2)..]);
        return new(ProxyParseStatus.Complete,
            new ProxyHeader(2, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort)), length, null);
    }

    private static ProxyParseResult ParseV1(ReadOnlySpan<byte> data)
    {
        var prefix = V1Prefix;
        var compared = Math.Min(data.Length, prefix.Length);
        if (!data[..compared].SequenceEqual(prefix[..compared]))
            return ProxyParseResult.Refuse("no PROXY protocol signature");
        var window = data[..Math.Min(data.Length, V1MaxLength)];
        var end = window.IndexOf("\r\n"u8);
        // Checked before waiting for the line's end, so that garbage is refused at once.
        var text = end >= 0 ? window[..end] : window.Length > 0 && window[^1] == '\r' ? window[..^1] : window;
        foreach (var b in text)
        {
            if (b is < 0x20 or > 0x7E)
                return ProxyParseResult.Refuse("a version 1 line with a byte that is not printable ASCII, or without CRLF");
        }
        if (end < 0)
        {
            return window.Length < V1MaxLength
                ? ProxyParseResult.More
                : ProxyParseResult.Refuse($"a version 1 line longer than {V1MaxLength} bytes");
        }
        var length = end + 2;
        var fields = Encoding.ASCII.GetString(window[prefix.Length..end]).Split(' ');
        if (fields[0] == "UNKNOWN")
            return new(ProxyParseStatus.Complete, new ProxyHeader(1, null, null), length, null);
        var family = fields[0] switch
        {
            "TCP4" => AddressFamily.InterNetwork,
            "TCP6" => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unknown,
        };
        if (family == AddressFamily.Unknown)
            return ProxyParseResult.Refuse("a version 1 protocol other than TCP4, TCP6 or UNKNOWN");
        if (fields.Length != 5
            || !TryParseV1Address(fields[1], family, out var source) || !TryParseV1Address(fields[2], family, out var destination)
            || !TryParseV1Port(fields[3], out var sourcePort) || !TryParseV1Port(fields[4], out var destinationPort))
            return ProxyParseResult.Refuse("a version 1 line without two addresses of its family and two ports");
        return new(ProxyParseStatus.Complete,
            new ProxyHeader(1, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort)), length, null);
    }

    private static bool TryParseV1Address(string text, AddressFamily family, out IPAddress address)
    {
        // IPAddress.Parse also takes forms the specification does not ("1", "0x7f.1", scope ids).
        var plain = family == AddressFamily.InterNetwork
            ? text.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit))
            : text.Length > 0 && text.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.');
        if (plain && IPAddress.TryParse(text, out var parsed) && parsed.AddressFamily == family)
        {
            address = parsed;
            return true;
        }
        address = IPAddress.None;
        return false;
    }

    private static bool TryParseV1Port(string text, out int port)
    {
        port = 0;
        return text.Length is > 0 and <= 5 && text.All(char.IsAsciiDigit) && (text.Length == 1 || text[0] != '0')
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= ushort.MaxValue;
    }

    private static bool BothIpv4(IPEndPoint source, IPEndPoint destination) =>
        source.AddressFamily == AddressFamily.InterNetwork && destination.AddressFamily == AddressFamily.InterNetwork;

    private static void WriteAddress(Span<byte> buffer, IPAddress address, bool v4)
    {
        var written = (v4 || address.AddressFamily == AddressFamily.InterNetworkV6 ? address : address.MapToIPv6())
            .TryWriteBytes(buffer, out _);
        if (!written)
            throw new ArgumentException($"{address} is not an IPv4 or IPv6 address", nameof(address));
    }
}
