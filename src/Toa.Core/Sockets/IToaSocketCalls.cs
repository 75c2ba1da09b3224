// SPDX-License-Identifier: MIT
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Toa.Sockets;

/// <summary>The system calls <see cref="RealClientResolver"/> makes; tests put a fake in their place.</summary>
public interface IToaSocketCalls
{
    /// <summary>
    /// Our receiver's record for the socket: 0 when found, ENOENT when the receiver holds none (the
    /// connection carried no TOA it honoured), ENODEV when no receiver of ours is in sight (no pin),
    /// any other errno when its records are there but cannot be read (the pin's open refused).
    /// </summary>
    int GetReceiverRecord(Socket socket, out ToaConnection? record);

    /// <summary>
    /// <c>getsockopt(fd, IPPROTO_IP, 4096, peer, &amp;len)</c> with a 20-byte buffer: 0 when it filled
    /// <paramref name="peer"/>, else the errno (ENOPROTOOPT: nothing in the kernel answers 4096).
    /// </summary>
    int GetNat64Peer(Socket socket, Span<byte> peer);
}

/// <summary>
/// The real calls, through libc so a refusal costs an errno, not an exception. The records pin is
/// opened on first use. A long-running server outlives receivers (<c>toa unload; toa load</c> is
/// what restarting the receiver's service does), so when a lookup finds nothing, at most once per
/// <see cref="RecheckInterval"/>, the pin is looked at again: a map other than the one open (or
/// none) is the receiver having changed, and the map behind the pin now is opened. Lookups that
/// find a record cost nothing more; so do the other misses, but for reading the clock.
/// </summary>
public sealed partial class SystemSocketCalls : IToaSocketCalls, IDisposable
{
    private const int ENOENT = 2, ENODEV = 19;

    private readonly string _pinDirectory;
    private readonly TimeProvider _time;
    private readonly long _recheckTicks;
    private readonly Lock _lock = new();
    private Opened _opened = Opened.Nothing;
    private long _nextCheck = long.MinValue;

    /// <summary>Calls for the receiver pinned in <paramref name="receiverPinDirectory"/>; <paramref name="time"/> paces looking at the pin again.</summary>
    public SystemSocketCalls(string receiverPinDirectory = ReceiverRecords.DefaultPinDirectory, TimeProvider? time = null)
    {
        _pinDirectory = receiverPinDirectory;
        _time = time ?? TimeProvider.System;
        _recheckTicks = (long)(RecheckInterval.TotalSeconds * _time.TimestampFrequency);
    }

    /// <summary>How often at most the pin is looked at again after lookups that found nothing: 1 s.</summary>
    public static TimeSpan RecheckInterval { get; } = TimeSpan.FromSeconds(1);

    /// <summary>Calls for the receiver pinned at the default place.</summary>
    public static SystemSocketCalls Default { get; } = new();

    /// <inheritdoc />
    public int GetReceiverRecord(Socket socket, out ToaConnection? record)
    {
        var seen = Volatile.Read(ref _opened);
        var errno = seen.Lookup(socket, out record);
        if (errno != ENOENT && seen.Records is not null)
            return errno;
        var now = Reopen(seen);
        return now == seen ? errno : now.Lookup(socket, out record);
    }

    /// <inheritdoc />
    public int GetNat64Peer(Socket socket, Span<byte> peer)
    {
        var length = (uint)peer.Length;
        var ret = GetSockOpt((int)socket.Handle, ToaSocketOption.Level, ToaSocketOption.GetLookup, peer, ref length);
        return ret == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    // What is open now: `seen` unless the interval has passed and the pin holds another map (or none).
    private Opened Reopen(Opened seen)
    {
        var now = _time.GetTimestamp();
        if (now < Volatile.Read(ref _nextCheck))
            return Volatile.Read(ref _opened);
        lock (_lock)
        {
            if (_opened != seen || now < _nextCheck)
                return _opened;
            _nextCheck = now + _recheckTicks;
            var records = ReceiverRecords.TryOpen(_pinDirectory, out var errno);
            var mapId = records?.MapId() ?? 0;
            if (seen.Records is not null && mapId == seen.MapId)
            {
                records?.Dispose();
                return seen;
            }
            var opened = new Opened(records, mapId, errno);
            Volatile.Write(ref _opened, opened);
            // Lookups still running on the old map hold its descriptor until they return.
            seen.Records?.Dispose();
            return opened;
        }
    }

    /// <inheritdoc />
    public void Dispose() => Volatile.Read(ref _opened).Records?.Dispose();

    // The records open (null: none could be, for OpenErrno) and the id of their map.
    private sealed class Opened(ReceiverRecords? records, uint mapId, int openErrno)
    {
        public ReceiverRecords? Records { get; } = records;

        public uint MapId { get; } = mapId;

        public int OpenErrno { get; } = openErrno;

        public static readonly Opened Nothing = new(null, 0, ENOENT);

        public int Lookup(Socket socket, out ToaConnection? record)
        {
            record = null;
            if (Records is null)
                return OpenErrno == ENOENT ? ENODEV : OpenErrno;
            try
            {
                return Records.Lookup(socket, out record);
            }
            catch (ObjectDisposedException)
            {
                return ENOENT; // replaced meanwhile: the caller looks in what is open now
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(int fd, int level, int name, Span<byte> value, ref uint length);
}
