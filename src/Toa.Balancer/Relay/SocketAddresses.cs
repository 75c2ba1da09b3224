// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Toa.Balancer.Relay;

/// <summary>Linux's sockaddr_in and sockaddr_in6, to and from <see cref="IPEndPoint"/>.</summary>
internal static class SocketAddresses
{
    private const ushort AfInet = 2;
    private const ushort AfInet6 = 10;

    /// <summary>Room for either (sizeof(struct sockaddr_in6)).</summary>
    public const int MaxLength = 28;

    /// <summary>The address accept() wrote; null for a family other than IPv4 and IPv6.</summary>
    public static IPEndPoint? Read(ReadOnlySpan<byte> address)
    {
        var port = BinaryPrimitives.ReadUInt16BigEndian(address[2..]);
        return BitConverter.ToUInt16(address) switch
        {
            AfInet => new IPEndPoint(new IPAddress(address.Slice(4, 4)), port),
            AfInet6 => new IPEndPoint(new IPAddress(address.Slice(8, 16), BitConverter.ToUInt32(address[24..])), port),
            _ => null,
        };
    }

    /// <summary>Writes <paramref name="endPoint"/> as connect() takes it; returns the length.</summary>
    public static int Write(IPEndPoint endPoint, Span<byte> address)
    {
        address[..MaxLength].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(address[2..], (ushort)endPoint.Port);
        if (endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            BitConverter.TryWriteBytes(address, AfInet);
            endPoint.Address.TryWriteBytes(address.Slice(4, 4), out _);
            return 16;
        }
        BitConverter.TryWriteBytes(address, AfInet6);
        endPoint.Address.TryWriteBytes(address.Slice(8, 16), out _);
        BitConverter.TryWriteBytes(address[24..], (uint)endPoint.Address.ScopeId);
        return MaxLength;
    }
}
