// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Toa.Bpf;

/// <summary>One TCP socket that holds a value in a socket-storage map.</summary>
/// <param name="Local">The socket's local address.</param>
/// <param name="Remote">The socket's peer address, as the kernel knows it.</param>
/// <param name="State">The TCP state (1 established, 8 close-wait, ...).</param>
/// <param name="Value">The map value, as the kernel returned it.</param>
public sealed record SkStorageEntry(IPEndPoint Local, IPEndPoint Remote, int State, byte[] Value);

/// <summary>
/// Reads socket-storage (BPF_MAP_TYPE_SK_STORAGE) values of every TCP socket in
/// the calling thread's network namespace through sock_diag (INET_DIAG with
/// INET_DIAG_REQ_SK_BPF_STORAGES, 5.7+): the kernel's own walk of its socket
/// tables, with nothing added to the data path. Needs CAP_SYS_ADMIN (or CAP_BPF).
/// </summary>
public static unsafe partial class SkStorageDiag
{
    private const int AF_NETLINK = 16, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000, NETLINK_SOCK_DIAG = 4;
    private const ushort SOCK_DIAG_BY_FAMILY = 20, NLMSG_ERROR = 2, NLMSG_DONE = 3;
    private const ushort NLM_F_REQUEST = 1, NLM_F_DUMP = 0x300, NLA_F_NESTED = 0x8000, NLA_TYPE_MASK = 0x3fff;
    private const ushort INET_DIAG_REQ_SK_BPF_STORAGES = 2, SK_DIAG_BPF_STORAGE_REQ_MAP_FD = 1;
    private const ushort INET_DIAG_SK_BPF_STORAGES = 20, SK_DIAG_BPF_STORAGE = 1, SK_DIAG_BPF_STORAGE_MAP_VALUE = 3;
    private const int NlmsgHeader = 16, InetDiagReqV2 = 56, InetDiagMsg = 72, AttrHeader = 4;

    /// <summary>Every TCP socket (IPv4 and IPv6) holding a value in <paramref name="map"/>.</summary>
    public static IReadOnlyList<SkStorageEntry> Dump(BpfMap map)
    {
        var entries = new List<SkStorageEntry>();
        foreach (var family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
            DumpFamily(map, family, entries);
        return entries;
    }

    private static void DumpFamily(BpfMap map, AddressFamily family, List<SkStorageEntry> entries)
    {
        var fd = Socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
            throw new BpfException("sock_diag: socket", Marshal.GetLastPInvokeError());
        try
        {
            var request = BuildRequest(family == AddressFamily.InterNetwork ? (byte)2 : (byte)10, map.Fd);
            fixed (byte* r = request)
                if (Send(fd, r, (nuint)request.Length, 0) < 0)
                    throw new BpfException("sock_diag: send", Marshal.GetLastPInvokeError());
            var buffer = new byte[64 * 1024];
            while (true)
            {
                nint n;
                fixed (byte* b = buffer)
                    n = Recv(fd, b, (nuint)buffer.Length, 0);
                if (n < 0)
                    throw new BpfException("sock_diag: receive", Marshal.GetLastPInvokeError());
                if (!ParseMessages(buffer.AsSpan(0, (int)n), family, entries))
                    return;
            }
        }
        finally
        {
            Native.LibC.Close(fd);
        }
    }

    private static byte[] BuildRequest(byte family, int mapFd)
    {
        const int mapFdAttr = AttrHeader + 4, storagesAttr = AttrHeader + mapFdAttr;
        var request = new byte[NlmsgHeader + InetDiagReqV2 + storagesAttr];
        var span = request.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)request.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], SOCK_DIAG_BY_FAMILY);
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], NLM_F_REQUEST | NLM_F_DUMP);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], 1);
        var req = span[NlmsgHeader..];
        req[0] = family;
        req[1] = (byte)ProtocolType.Tcp;
        BinaryPrimitives.WriteUInt32LittleEndian(req[4..], uint.MaxValue); // every state
        var attr = span[(NlmsgHeader + InetDiagReqV2)..];
        BinaryPrimitives.WriteUInt16LittleEndian(attr, storagesAttr);
        BinaryPrimitives.WriteUInt16LittleEndian(attr[2..], INET_DIAG_REQ_SK_BPF_STORAGES | NLA_F_NESTED);
        BinaryPrimitives.WriteUInt16LittleEndian(attr[4..], mapFdAttr);
        BinaryPrimitives.WriteUInt16LittleEndian(attr[6..], SK_DIAG_BPF_STORAGE_REQ_MAP_FD);
        BinaryPrimitives.WriteInt32LittleEndian(attr[8..], mapFd);
        return request;
    }

    // Returns false once the dump is done.
    private static bool ParseMessages(ReadOnlySpan<byte> data, AddressFamily family, List<SkStorageEntry> entries)
    {
        while (data.Length >= NlmsgHeader)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(data);
            var type = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
            if (length < NlmsgHeader || length > data.Length)
                throw new InvalidDataException($"sock_diag: message of {length} bytes in {data.Length}");
            if (type == NLMSG_DONE)
                return false;
            if (type == NLMSG_ERROR)
            {
                var errno = -BinaryPrimitives.ReadInt32LittleEndian(data[NlmsgHeader..]);
                if (errno != 0)
                    throw new BpfException("sock_diag: dump with socket storage", errno);
            }
            else if (type == SOCK_DIAG_BY_FAMILY && length >= NlmsgHeader + InetDiagMsg)
            {
                ParseSocket(data[NlmsgHeader..length], family, entries);
            }
            data = data[Math.Min(Align(length), data.Length)..];
        }
        return true;
    }

    private static void ParseSocket(ReadOnlySpan<byte> msg, AddressFamily family, List<SkStorageEntry> entries)
    {
        var value = FindValue(msg[InetDiagMsg..]);
        if (value is null)
            return;
        var state = msg[1];
        var id = msg[4..52];
        var addressLength = family == AddressFamily.InterNetwork ? 4 : 16;
        var local = new IPEndPoint(new IPAddress(id.Slice(4, addressLength)), BinaryPrimitives.ReadUInt16BigEndian(id));
        var remote = new IPEndPoint(new IPAddress(id.Slice(20, addressLength)), BinaryPrimitives.ReadUInt16BigEndian(id[2..]));
        entries.Add(new SkStorageEntry(local, remote, state, value));
    }

    // INET_DIAG_SK_BPF_STORAGES { SK_DIAG_BPF_STORAGE { MAP_ID, MAP_VALUE } }: one map was asked for.
    private static byte[]? FindValue(ReadOnlySpan<byte> attributes)
    {
        var storages = FindAttribute(attributes, INET_DIAG_SK_BPF_STORAGES);
        if (storages.IsEmpty)
            return null;
        var storage = FindAttribute(storages, SK_DIAG_BPF_STORAGE);
        var value = FindAttribute(storage, SK_DIAG_BPF_STORAGE_MAP_VALUE);
        return value.IsEmpty ? null : value.ToArray();
    }

    private static ReadOnlySpan<byte> FindAttribute(ReadOnlySpan<byte> attributes, ushort wanted)
    {
        while (attributes.Length >= AttrHeader)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(attributes);
            var type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(attributes[2..]) & NLA_TYPE_MASK);
            if (length < AttrHeader || length > attributes.Length)
                return default;
            if (type == wanted)
                return attributes[AttrHeader..length];
            attributes = attributes[Math.Min(Align(length), attributes.Length)..];
        }
        return default;
    }

    private static int Align(int length) => (length + 3) & ~3;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint Send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(int fd, byte* buffer, nuint length, int flags);
}
