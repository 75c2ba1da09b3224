// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;

namespace Toa.Wire;

/// <summary>A client address as one TOA carries it. Layouts without a port carry port 0.</summary>
public readonly record struct ToaAddress(ToaLayout Layout, IPEndPoint Client)
{
    /// <summary>
    /// Encodes the option into <paramref name="destination"/> and returns its length.
    /// Throws when the client's family is not the layout's or the buffer is short.
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

    /// <inheritdoc />
    public override string ToString() => $"{Layout.Describe()} {Client}";
}
