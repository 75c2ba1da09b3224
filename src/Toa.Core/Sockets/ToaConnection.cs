// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Toa.Wire;

namespace Toa.Sockets;

/// <summary>Which packet carried the TOA a connection holds.</summary>
public enum ToaSource
{
    /// <summary>The ACK that completes the handshake (where toa.ko looks).</summary>
    Ack = 1,
    /// <summary>The SYN (the handshake ACK had none).</summary>
    Syn = 2,
    /// <summary>The first data segment (the handshake had none).</summary>
    Data = 3,
}

/// <summary>What the receiver holds for one connection.</summary>
/// <param name="Local">The connection's local address.</param>
/// <param name="Peer">Its peer as the kernel sees it: the SNAT or load-balancer address.</param>
/// <param name="Client">The real client the TOA carried (port of <paramref name="Peer"/> for layouts without one).</param>
/// <param name="Layout">The layout it came in.</param>
/// <param name="Source">The packet it came in.</param>
/// <param name="Age">How long ago it was recorded.</param>
public sealed record ToaConnection(IPEndPoint Local, IPEndPoint Peer, IPEndPoint Client, ToaLayout Layout, ToaSource Source, TimeSpan Age)
{
    internal static unsafe ToaConnection From(in RecordLayout record)
    {
        fixed (RecordLayout* r = &record)
        {
            var layout = (ToaLayout)r->Layout;
            var client = Address(new ReadOnlySpan<byte>(r->Client, 16), layout.Family() == System.Net.Sockets.AddressFamily.InterNetwork);
            var nowNs = (ulong)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));
            var age = nowNs > r->SinceNs ? TimeSpan.FromTicks((long)((nowNs - r->SinceNs) / 100)) : TimeSpan.Zero;
            return new ToaConnection(
                new IPEndPoint(Address(new ReadOnlySpan<byte>(r->Local, 16), null), Port(r->LocalPort)),
                new IPEndPoint(Address(new ReadOnlySpan<byte>(r->Peer, 16), null), Port(r->PeerPort)),
                new IPEndPoint(client, Port(r->ClientPort)),
                layout, (ToaSource)r->Source, age);
        }
    }

    /// <summary>Decodes a record as the receiver's map holds it (struct toa_record).</summary>
    public static ToaConnection From(ReadOnlySpan<byte> value) => From(MemoryMarshal.Read<RecordLayout>(value));

    // Kernel addresses are 16 bytes with IPv4 as ::ffff:a.b.c.d; v4 null means "IPv4 when mapped".
    private static IPAddress Address(ReadOnlySpan<byte> bytes, bool? v4)
    {
        var address = new IPAddress(bytes);
        return (v4 ?? address.IsIPv4MappedToIPv6) ? address.MapToIPv4() : address;
    }

    private static int Port(ushort networkOrder) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(networkOrder) : networkOrder;
}

/// <summary>
/// struct toa_record of bpf/receiver.h, byte for byte: what the receiver keeps per connection.
/// Addresses are 16 bytes with IPv4 as ::ffff:a.b.c.d; ports in network order. A test checks
/// this mirror against the BTF of the receiver's object.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct RecordLayout
{
    public fixed byte Client[16];
    public fixed byte Peer[16];
    public fixed byte Local[16];
    public ulong SinceNs;
    public ushort ClientPort;
    public ushort PeerPort;
    public ushort LocalPort;
    public byte Layout;
    public byte Source;
    public byte Flags;
    private fixed byte _pad[7];
}
