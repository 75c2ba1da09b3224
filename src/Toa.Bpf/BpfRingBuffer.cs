// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Toa.Bpf.Native;

namespace Toa.Bpf;

/// <summary>
/// The reading end of a BPF_MAP_TYPE_RINGBUF map (Linux 5.8), through libbpf's
/// ring_buffer. Records are handed to the handler as they are consumed: the span is
/// valid only during the call. The ring has one consumer position, shared by every
/// reader, so two readers take records from each other: see <see cref="LockReader"/>.
/// </summary>
public sealed unsafe class BpfRingBuffer : IDisposable
{
    private const int EINTR = 4, EWOULDBLOCK = 11;

    /// <summary>Receives one record.</summary>
    public delegate void RecordHandler(ReadOnlySpan<byte> record);

    private readonly RecordHandler _handler;
    private GCHandle _self;
    private nint _rb;
    private Exception? _failure;

    /// <summary>Opens the ring buffer <paramref name="map"/>; <paramref name="handler"/> gets each record.</summary>
    public BpfRingBuffer(BpfMap map, RecordHandler handler)
    {
        _handler = handler;
        _self = GCHandle.Alloc(this);
        _rb = LibBpf.RingBufferNew(map.Fd, &OnRecord, GCHandle.ToIntPtr(_self), null);
        if (_rb == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            _self.Free();
            throw new BpfException($"map {map.Name}: open ring buffer", errno);
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for records and hands them over; returns how many.</summary>
    public int Poll(TimeSpan timeout) => Check(LibBpf.RingBufferPoll(Handle, (int)timeout.TotalMilliseconds), "poll");

    /// <summary>Hands over every record waiting, without waiting for more; returns how many.</summary>
    public int Consume() => Check(LibBpf.RingBufferConsume(Handle), "consume");

    /// <summary>
    /// Takes an exclusive lock on <paramref name="directory"/> (flock), which readers of the
    /// ring buffers pinned there agree to hold; null when another process holds it.
    /// </summary>
    public static SafeFileHandle? LockReader(string directory)
    {
        var fd = LibC.Open(directory, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        if (fd < 0)
            throw new BpfException($"{directory}: open", Marshal.GetLastPInvokeError());
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (LibC.Flock(fd, LibC.LOCK_EX | LibC.LOCK_NB) == 0)
            return handle;
        var errno = Marshal.GetLastPInvokeError();
        handle.Dispose();
        return errno == EWOULDBLOCK ? null : throw new BpfException($"{directory}: lock", errno);
    }

    private int Check(int ret, string what)
    {
        if (_failure is { } failure)
        {
            _failure = null;
            throw new InvalidOperationException($"ring buffer: a record's handler failed: {failure.Message}", failure);
        }
        if (ret == -EINTR)
            return 0;
        return ret < 0 ? throw new BpfException($"ring buffer: {what}", -ret) : ret;
    }

    private nint Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_rb == 0, this);
            return _rb;
        }
    }

    // An exception must not unwind through libbpf: keep it, stop the poll, rethrow after.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnRecord(nint context, void* data, nuint size)
    {
        var self = (BpfRingBuffer)GCHandle.FromIntPtr(context).Target!;
        try
        {
            self._handler(new ReadOnlySpan<byte>(data, (int)size));
            return 0;
        }
        catch (Exception e)
        {
            self._failure = e;
            return -1;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_rb != 0)
        {
            LibBpf.RingBufferFree(_rb);
            _rb = 0;
            _self.Free();
        }
    }
}
