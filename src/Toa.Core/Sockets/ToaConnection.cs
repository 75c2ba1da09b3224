// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Toa.Wire;

namespace Toa.Sockets;

/// <summary>What the receiver holds for one connection.</summary>
/// <param name="Local">The connection's local address.</param>
/// <param name="Peer">Its peer as the kernel sees it: the SNAT or load-balancer address.</param>
/// <param name="Client">The real client the TOA carried (port of <paramref name="Peer"/> for layouts without one).</param>
/// <param name="Layout">The layout it came in.</param>
/// <param name="Source">The packet it came in.</param>
/// <param name="Age">How long ago it was recorded.</param>
public sealed record ToaConnection(IPEndPoint Local, IPEndPoint Peer, IPEndPoint Client, ToaLayout Layout, ToaSource Source, TimeSpan Age)
{
    /// <summary>Decodes a record (struct toa_record).</summary>
    public static unsafe ToaConnection From(in ReceiverAbi.Record record)
    {
        fixed (ReceiverAbi.Record* r = &record)
        {
            var layout = (ToaLayout)r->Layout;
            var client = ReceiverAbi.Address(new ReadOnlySpan<byte>(r->Client, 16), layout.Family() == System.Net.Sockets.AddressFamily.InterNetwork);
            var nowNs = (ulong)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));
            var age = nowNs > r->SinceNs ? TimeSpan.FromTicks((long)((nowNs - r->SinceNs) / 100)) : TimeSpan.Zero;
            return new ToaConnection(
                new IPEndPoint(ReceiverAbi.Address(new ReadOnlySpan<byte>(r->Local, 16)), ReceiverAbi.Port(r->LocalPort)),
                new IPEndPoint(ReceiverAbi.Address(new ReadOnlySpan<byte>(r->Peer, 16)), ReceiverAbi.Port(r->PeerPort)),
                new IPEndPoint(client, ReceiverAbi.Port(r->ClientPort)),
                layout, (ToaSource)r->Source, age);
        }
    }

    /// <summary>Decodes a record as the receiver's map holds it (struct toa_record).</summary>
    public static ToaConnection From(ReadOnlySpan<byte> value) => From(MemoryMarshal.Read<ReceiverAbi.Record>(value));
}
