// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Toa.Core.Tests.Sockets;

/// <summary>
/// A BPF hash map keyed by a socket's descriptor with values shaped as the receiver's records, pinned
/// where a test says: what <c>SystemSocketCalls</c> opens, without loading a receiver. Needs root.
/// </summary>
internal sealed unsafe partial class PinnedTestMap : IDisposable
{
    public const int RecordSize = 72; // sizeof(struct toa_record)
    private const int BPF_MAP_CREATE = 0, BPF_MAP_UPDATE_ELEM = 2, BPF_OBJ_PIN = 6, BPF_MAP_TYPE_HASH = 1;
    private readonly SafeFileHandle _fd;

    private PinnedTestMap(SafeFileHandle fd) => _fd = fd;

    /// <summary>A new map pinned at <paramref name="path"/>.</summary>
    public static PinnedTestMap Create(string path)
    {
        var create = new MapCreateAttr { MapType = BPF_MAP_TYPE_HASH, KeySize = sizeof(int), ValueSize = RecordSize, MaxEntries = 16 };
        var fd = Bpf(BPF_MAP_CREATE, &create, (uint)sizeof(MapCreateAttr));
        if (fd < 0)
            throw new IOException($"test map: create: errno {Marshal.GetLastPInvokeError()}");
        var map = new PinnedTestMap(new SafeFileHandle((nint)fd, ownsHandle: true));
        var name = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = name)
        {
            var pin = new ObjPinAttr { Pathname = (ulong)p, BpfFd = (uint)fd };
            if (Bpf(BPF_OBJ_PIN, &pin, (uint)sizeof(ObjPinAttr)) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                map.Dispose();
                throw new IOException($"test map: pin at {path}: errno {errno}");
            }
        }
        return map;
    }

    /// <summary>Stores <paramref name="record"/> for descriptor <paramref name="key"/>.</summary>
    public void Put(int key, ReadOnlySpan<byte> record)
    {
        fixed (byte* value = record)
        {
            var attr = new MapElemAttr { MapFd = (uint)_fd.DangerousGetHandle(), Key = (ulong)&key, Value = (ulong)value };
            if (Bpf(BPF_MAP_UPDATE_ELEM, &attr, (uint)sizeof(MapElemAttr)) != 0)
                throw new IOException($"test map: update: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Dispose() => _fd.Dispose();

    [StructLayout(LayoutKind.Sequential)]
    private struct MapCreateAttr
    {
        public uint MapType, KeySize, ValueSize, MaxEntries, MapFlags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ObjPinAttr
    {
        public ulong Pathname;
        public uint BpfFd;
        public uint FileFlags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MapElemAttr
    {
        public uint MapFd;
        private uint _pad;
        public ulong Key;
        public ulong Value;
        public ulong Flags;
    }

    private static int Bpf(int command, void* attr, uint size) =>
        (int)Syscall(RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 280 : 321, command, (nint)attr, size);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long command, nint attr, uint size);
}
