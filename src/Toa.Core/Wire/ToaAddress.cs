// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Toa.Wire;

/// <summary>A client address as one TOA carries it. Layouts without a port carry port 0.</summary>
public readonly record struct ToaAddress(ToaLayout Layout, IPEndPoint Client)
{
    /// <summary>
    /// The two bytes after the length that mark kind 254 as TCP Fast Open's experimental option
    /// (RFC 7413 under RFC 6994's shared kind), read big-endian. Where a DPVS layout's port would be.
    /// </summary>
    public const ushort FastOpenMagic = 0xF989;

    /// <summary>
    /// Decodes the TOA that starts at <paramref name="option"/>[0] (the kind byte). The span may run
    /// on past the option. Strict, so that a receiver never trusts bytes it cannot account for:
    /// <list type="bullet">
    /// <item>kind and length bytes must name a layout in <paramref name="accepted"/> exactly
    /// (253/8 is <see cref="ToaLayout.UCloud4"/>, 253/20 <see cref="ToaLayout.Tencent6"/>), and the
    /// whole option must fit in the span;</item>
    /// <item>kind 254 followed by <see cref="FastOpenMagic"/> is TCP Fast Open, never a TOA. So a DPVS
    /// client on port 63881 (0xF989) cannot be represented, as in the kernel modules;</item>
    /// <item>Alibaba CDN's version byte must be <see cref="AlibabaCdnVersion"/>;</item>
    /// <item>the address must pass <see cref="IsPlausibleClient"/> (unspecified, loopback,
    /// multicast, broadcast and IPv4 inside an IPv6 layout are refused), unlike the kernel modules,
    /// which take any bytes. Port 0 is accepted and means the port is unknown, as for the Alibaba CDN
    /// layouts, which carry none.</item>
    /// </list>
    /// </summary>
    /// <returns>True with the client in <paramref name="address"/>; false with <c>default</c>.</returns>
    public static bool TryDecode(ReadOnlySpan<byte> option, ToaLayouts accepted, out ToaAddress address)
    {
        address = default;
        if (option.Length < 2 || IsFastOpen(option)
            || !ToaLayoutInfo.TryFind(option[0], option[1], out var layout)
            || (accepted & layout.AsSet()) == 0 || option.Length < option[1])
            return false;
        return Read(layout, option[..option[1]], out address) == TcpOptionProblem.None;
    }

    /// <summary>
    /// Whether <paramref name="address"/> may be believed as a TCP client (docs/receiver.md,
    /// "Parsing rules"). Refused: IPv4 0.0.0.0/8 (unspecified, "this network"), 127.0.0.0/8
    /// (loopback), 224.0.0.0/4 (multicast) and 255.255.255.255 (broadcast), which Linux itself drops
    /// as martian sources; IPv6 ::/96 (unspecified ::, loopback ::1 and the deprecated
    /// IPv4-compatible ::a.b.c.d), ::ffff:0:0/96 (IPv4-mapped: an IPv4 client has a layout of its own)
    /// and ff00::/8 (multicast). Private and link-local addresses pass: internal networks use them.
    /// </summary>
    public static bool IsPlausibleClient(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var written))
            return false;
        if (written == 4)
            return bytes[0] is not (0 or 127 or (>= 224 and <= 239)) && bytes[..4].IndexOfAnyExcept((byte)0xff) >= 0;
        var v4Inside = bytes[..10].IndexOfAnyExcept((byte)0) < 0
            && (bytes[10], bytes[11]) is (0, 0) or (0xff, 0xff);
        return bytes[0] != 0xff && !v4Inside;
    }

    /// <summary>
    /// Whether <see cref="TryDecode"/> gives this value back from the bytes <see cref="Encode()"/>
    /// writes: a known layout, a client of its family and <see cref="IsPlausibleClient"/>, no IPv6
    /// scope (the wire has none), port 0 on layouts without a port, and no DPVS port 63881
    /// (<see cref="FastOpenMagic"/>). Senders can check what they are asked to send.
    /// </summary>
    public bool IsValid =>
        Client is not null && Enum.IsDefined(Layout)
        && Client.AddressFamily == Layout.Family()
        && (Layout.HasPort() || Client.Port == 0)
        && !(Layout.Format() == ToaFormat.Dpvs && Client.Port == FastOpenMagic)
        && (Client.AddressFamily != AddressFamily.InterNetworkV6 || Client.Address.ScopeId == 0)
        && IsPlausibleClient(Client.Address);

    /// <summary>
    /// Encodes the option into <paramref name="destination"/> and returns its length.
    /// Throws when the client's family is not the layout's or the buffer is short. Any other client
    /// is written as given, even one <see cref="IsValid"/> refuses, so tests can forge what a
    /// receiver must reject.
    /// </summary>
    public int Encode(Span<byte> destination)
    {
        var length = Layout.Length();
        if (Client.AddressFamily != Layout.Family())
            throw new ArgumentException($"layout {Layout.Describe()} carries {Layout.Family()} clients, not {Client.Address}");
        if (destination.Length < length)
            throw new ArgumentException($"layout {Layout.Describe()} needs {length} bytes, the buffer has {destination.Length}");
        destination[0] = Layout.Kind();
        destination[1] = length;
        Span<byte> address = stackalloc byte[16];
        Client.Address.TryWriteBytes(address, out var addressLength);
        if (Layout.HasPort())
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)Client.Port);
            address[..addressLength].CopyTo(destination[4..]);
        }
        else
        {
            destination[2] = AlibabaCdnVersion;
            address[..addressLength].CopyTo(destination[3..]);
        }
        return length;
    }

    /// <summary>The encoded option.</summary>
    public byte[] Encode()
    {
        var bytes = new byte[Layout.Length()];
        Encode(bytes);
        return bytes;
    }

    /// <summary>The version byte Alibaba CDN's layout carries after the length.</summary>
    public const byte AlibabaCdnVersion = 1;

    /// <summary>Whether an option (kind byte first) is kind 254 with TCP Fast Open's magic.</summary>
    internal static bool IsFastOpen(ReadOnlySpan<byte> option) =>
        option.Length >= 4 && option[0] == 254 && option[1] >= 4
        && BinaryPrimitives.ReadUInt16BigEndian(option[2..]) == FastOpenMagic;

    /// <summary>
    /// Reads the fields of <paramref name="option"/>, exactly one option of <paramref name="layout"/>;
    /// says what is wrong with them, if anything.
    /// </summary>
    internal static TcpOptionProblem Read(ToaLayout layout, ReadOnlySpan<byte> option, out ToaAddress address)
    {
        address = default;
        int port;
        ReadOnlySpan<byte> bytes;
        if (layout.HasPort())
        {
            port = BinaryPrimitives.ReadUInt16BigEndian(option[2..]);
            bytes = option[4..];
        }
        else
        {
            if (option[2] != AlibabaCdnVersion)
                return TcpOptionProblem.BadVersion;
            port = 0;
            bytes = option[3..];
        }
        var client = new IPAddress(bytes);
        if (!IsPlausibleClient(client))
            return TcpOptionProblem.ImplausibleAddress;
        address = new ToaAddress(layout, new IPEndPoint(client, port));
        return TcpOptionProblem.None;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Layout.Describe()} {Client}";
}
