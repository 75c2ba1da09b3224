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
/// opened on first use and, while it cannot be, tried again at most every few seconds, so a
/// receiver loaded after the server started is found.
/// </summary>
public sealed partial class SystemSocketCalls(string receiverPinDirectory = ReceiverRecords.DefaultPinDirectory) : IToaSocketCalls, IDisposable
{
    private const int ENOENT = 2, ENODEV = 19;
    private static readonly TimeSpan s_retryOpen = TimeSpan.FromSeconds(5);

    private readonly Lock _lock = new();
    private ReceiverRecords? _records;
    private int _openErrno = ENOENT;
    private long _nextOpen;

    /// <summary>Calls for the receiver pinned at the default place.</summary>
    public static SystemSocketCalls Default { get; } = new();

    /// <inheritdoc />
    public int GetReceiverRecord(Socket socket, out ToaConnection? record)
    {
        record = null;
        var records = Records();
        if (records is null)
        {
            var errno = Volatile.Read(ref _openErrno);
            return errno == ENOENT ? ENODEV : errno;
        }
        return records.Lookup(socket, out record);
    }

    /// <inheritdoc />
    public int GetNat64Peer(Socket socket, Span<byte> peer)
    {
        var length = (uint)peer.Length;
        var ret = GetSockOpt((int)socket.Handle, ToaSocketOption.Level, ToaSocketOption.GetLookup, peer, ref length);
        return ret == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    private ReceiverRecords? Records()
    {
        if (Volatile.Read(ref _records) is { } open)
            return open;
        var now = Environment.TickCount64;
        lock (_lock)
        {
            if (_records is null && now >= _nextOpen)
            {
                _records = ReceiverRecords.TryOpen(receiverPinDirectory, out _openErrno);
                _nextOpen = now + (long)s_retryOpen.TotalMilliseconds;
            }
            return _records;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _records?.Dispose();

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(int fd, int level, int name, Span<byte> value, ref uint length);
}
