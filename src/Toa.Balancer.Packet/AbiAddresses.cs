// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Toa.Balancer.Packet;

/// <summary>Addresses and ports between .NET's types and the datapath's (network order, IPv4 in the first four bytes).</summary>
internal static unsafe class AbiAddresses
{
    public static byte Family(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork ? PacketAbi.AfInet : PacketAbi.AfInet6;

    public static void Write(IPAddress address, byte* destination)
    {
        var span = new Span<byte>(destination, 16);
        span.Clear();
        address.TryWriteBytes(span, out _);
    }

    public static IPAddress Read(byte* source, byte family) =>
        new(new ReadOnlySpan<byte>(source, family == PacketAbi.AfInet ? 4 : 16));

    public static ushort Port(int port) => BinaryPrimitives.ReverseEndianness((ushort)port);

    public static int Port(ushort wire) => BinaryPrimitives.ReverseEndianness(wire);

    public static PacketAbi.VipKey VipKey(IPEndPoint endPoint)
    {
        var key = default(PacketAbi.VipKey);
        Write(endPoint.Address, key.Addr);
        key.Port = Port(endPoint.Port);
        key.Family = Family(endPoint.Address);
        return key;
    }

    /// <summary>Where a flow goes: its destination address and port.</summary>
    public static IPEndPoint Destination(in PacketAbi.Flow flow)
    {
        fixed (byte* d = flow.DAddr)
            return new IPEndPoint(Read(d, flow.Family), Port(flow.DPort));
    }

    /// <summary>The same flow seen from the other end: what its replies carry.</summary>
    public static PacketAbi.Flow Reverse(in PacketAbi.Flow flow)
    {
        var reverse = flow;
        fixed (byte* s = flow.SAddr, d = flow.DAddr)
        {
            new ReadOnlySpan<byte>(s, 16).CopyTo(new Span<byte>(reverse.DAddr, 16));
            new ReadOnlySpan<byte>(d, 16).CopyTo(new Span<byte>(reverse.SAddr, 16));
        }
        reverse.SPort = flow.DPort;
        reverse.DPort = flow.SPort;
        return reverse;
    }
}

/// <summary>Flows as dictionary keys: their bytes, hashed whole (the default hash of a struct is symmetric in a flow and its reverse).</summary>
internal sealed class FlowComparer : IEqualityComparer<PacketAbi.Flow>
{
    public static readonly FlowComparer Instance = new();

    public bool Equals(PacketAbi.Flow x, PacketAbi.Flow y) => Bytes(ref x).SequenceEqual(Bytes(ref y));

    public int GetHashCode(PacketAbi.Flow flow)
    {
        var hash = new HashCode();
        hash.AddBytes(Bytes(ref flow));
        return hash.ToHashCode();
    }

    private static ReadOnlySpan<byte> Bytes(ref PacketAbi.Flow flow) => MemoryMarshal.AsBytes(new ReadOnlySpan<PacketAbi.Flow>(ref flow));
}
