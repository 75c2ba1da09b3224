// SPDX-License-Identifier: MIT
using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using Toa.Bpf;

namespace Toa.Receiver;

/// <summary>
/// A server's view of the receiver's records: what it holds for one of the
/// server's own sockets, looked up with the socket's descriptor. The records
/// pin is mode 0644 and opened read-only, so this works without root.
/// </summary>
public sealed class ToaRecords : IDisposable
{
    private readonly BpfMap _map;

    private ToaRecords(BpfMap map) => _map = map;

    /// <summary>Opens the records of the receiver pinned at <paramref name="pinDirectory"/>.</summary>
    public static ToaRecords Open(string pinDirectory = ToaReceiver.DefaultPinDirectory) =>
        new(BpfMap.OpenPinned(Path.Join(pinDirectory, ToaReceiver.Pins.Records), readOnly: true));

    /// <summary>What the receiver holds for <paramref name="socket"/>; false when its connection carried no TOA.</summary>
    public bool TryGet(Socket socket, [NotNullWhen(true)] out ToaConnection? connection)
    {
        connection = null;
        if (!_map.TryLookup((int)socket.Handle, out ReceiverAbi.Record record))
            return false;
        connection = ToaConnection.From(record);
        return true;
    }

    /// <inheritdoc />
    public void Dispose() => _map.Dispose();
}
