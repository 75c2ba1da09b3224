// SPDX-License-Identifier: MIT
using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Toa.Sockets;

/// <summary>
/// The records our receiver (<c>toa load</c>) keeps: a server asks for its own socket's with
/// <c>getsockopt(fd, IPPROTO_IP, 4097)</c>, which the receiver answers from wherever it keeps the
/// record; where the kernel lets the receiver answer "none" only with ENOPROTOOPT (before 5.18),
/// the socket storage map pinned is asked too, by descriptor. The pin is mode 0644 and opened
/// read-only, so no root is needed, and the bpf(2) calls are made directly: no libbpf on the server.
/// </summary>
public sealed partial class ReceiverRecords : IDisposable
{
    /// <summary>Where <c>toa load</c> pins by default.</summary>
    public const string DefaultPinDirectory = ReceiverAbi.Pins.DefaultDirectory;

    /// <summary>The records map's pin name inside the pin directory.</summary>
    public const string RecordsPin = ReceiverAbi.Pins.Records;

    private const int BPF_MAP_LOOKUP_ELEM = 1, BPF_OBJ_GET = 7, BPF_OBJ_GET_INFO_BY_FD = 15;
    private const uint BPF_F_RDONLY = 1 << 3;
    private const int ENOENT = 2, ENOPROTOOPT = 92;

    private readonly SafeHandle _map;

    private ReceiverRecords(SafeHandle map) => _map = map;

    /// <summary>Opens the records pinned under <paramref name="pinDirectory"/>; null when there are none to read.</summary>
    public static ReceiverRecords? TryOpen(string pinDirectory = DefaultPinDirectory) => TryOpen(pinDirectory, out _);

    /// <summary>The same, with the errno of a refusal: ENOENT when there is no pin.</summary>
    internal static unsafe ReceiverRecords? TryOpen(string pinDirectory, out int errno)
    {
        var path = Encoding.UTF8.GetBytes(Path.Join(pinDirectory, RecordsPin) + "\0");
        fixed (byte* p = path)
        {
            var attr = new ObjGetAttr { Pathname = (ulong)p, FileFlags = BPF_F_RDONLY };
            var fd = Bpf(BPF_OBJ_GET, &attr, (uint)sizeof(ObjGetAttr));
            errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
            return fd < 0 ? null : new ReceiverRecords(new Microsoft.Win32.SafeHandles.SafeFileHandle((nint)fd, ownsHandle: true));
        }
    }

    /// <summary>The id of the map these records were opened from: a restarted receiver's map has another.</summary>
    internal uint MapId()
    {
        var added = false;
        try
        {
            _map.DangerousAddRef(ref added);
            return MapIdOf((int)_map.DangerousGetHandle());
        }
        finally
        {
            if (added)
                _map.DangerousRelease();
        }
    }

    // struct bpf_map_info begins with its type and its id; the kernel fills only the bytes asked for.
    private static unsafe uint MapIdOf(int fd)
    {
        var info = stackalloc uint[2];
        var attr = new InfoAttr { BpfFd = (uint)fd, InfoLen = 2 * sizeof(uint), Info = (ulong)info };
        return Bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, (uint)sizeof(InfoAttr)) == 0 ? info[1] : 0;
    }

    /// <summary>What the receiver holds for <paramref name="socket"/>; false when its connection carried no TOA.</summary>
    public bool TryGet(Socket socket, [NotNullWhen(true)] out ToaConnection? connection)
    {
        var errno = Lookup(socket, out connection);
        return errno switch
        {
            0 => true,
            ENOENT => false,
            _ => throw new SocketException(errno),
        };
    }

    /// <summary>The lookup as an errno: 0 found, ENOENT no record, else why it failed.</summary>
    internal unsafe int Lookup(Socket socket, out ToaConnection? connection)
    {
        connection = null;
        var key = (int)socket.Handle;
        ReceiverAbi.Record record;
        var length = (uint)sizeof(ReceiverAbi.Record);
        var asked = GetSockOpt(key, ToaSocketOption.Level, ToaSocketOption.GetRecord, &record, ref length);
        if (asked == 0 && length == sizeof(ReceiverAbi.Record))
        {
            connection = ToaConnection.From(record);
            return 0;
        }
        // ENOENT: the receiver holds none. ENOPROTOOPT: no answer, or "none" from a kernel before 5.18; the map says which.
        var errno = asked == 0 ? ENOPROTOOPT : Marshal.GetLastPInvokeError();
        if (errno != ENOPROTOOPT)
            return errno;
        var added = false;
        try
        {
            _map.DangerousAddRef(ref added);
            var attr = new MapElemAttr { MapFd = (uint)_map.DangerousGetHandle(), Key = (ulong)&key, Value = (ulong)&record };
            if (Bpf(BPF_MAP_LOOKUP_ELEM, &attr, (uint)sizeof(MapElemAttr)) != 0)
                return Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
                _map.DangerousRelease();
        }
        connection = ToaConnection.From(record);
        return 0;
    }

    /// <inheritdoc />
    public void Dispose() => _map.Dispose();

    [StructLayout(LayoutKind.Sequential)]
    private struct ObjGetAttr
    {
        public ulong Pathname;
        public uint BpfFd;
        public uint FileFlags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct InfoAttr
    {
        public uint BpfFd;
        public uint InfoLen;
        public ulong Info;
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

    private static unsafe int Bpf(int command, void* attr, uint size) =>
        (int)Syscall(RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 280 : 321, command, (nint)attr, size);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long command, nint attr, uint size);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static unsafe partial int GetSockOpt(int fd, int level, int name, void* value, ref uint length);
}
