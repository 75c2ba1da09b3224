// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Toa.Balancer.Packet;

/// <summary>An interface as rtnetlink lists it.</summary>
internal sealed record LinkInfo(int Index, string Name, int Mtu, bool Loopback);

/// <summary>An address configured on interface <paramref name="Interface"/>.</summary>
internal readonly record struct LocalAddress(int Interface, IPAddress Address);

/// <summary>The kernel's answer to "how would a packet to this address leave?".</summary>
/// <param name="OutputInterface">The interface it leaves by (RTA_OIF).</param>
/// <param name="PreferredSource">The source address the kernel would pick (RTA_PREFSRC).</param>
/// <param name="Gateway">The next hop when the destination is not on a link (RTA_GATEWAY).</param>
/// <param name="Local">The destination is an address of this host (RTN_LOCAL).</param>
internal sealed record RouteInfo(int OutputInterface, IPAddress? PreferredSource, IPAddress? Gateway, bool Local);

/// <summary>The kernel's network tables the engine reads: rtnetlink, or a fake in tests.</summary>
internal interface INetworkTables
{
    IReadOnlyList<LinkInfo> Links();

    IReadOnlyList<LocalAddress> Addresses();

    /// <summary>The route to <paramref name="destination"/>; null when there is none (unreachable).</summary>
    RouteInfo? RouteTo(IPAddress destination);

    /// <summary>Whether interface <paramref name="name"/> forwards <paramref name="family"/> (net.ipv4/ipv6.conf.NAME.forwarding).</summary>
    bool Forwards(string name, AddressFamily family);
}

/// <summary>
/// A small rtnetlink client over a raw AF_NETLINK socket: links, addresses and one route lookup
/// (RTM_GETROUTE with RTA_DST, what <c>ip route get</c> asks). The socket belongs to the network
/// namespace of the thread that makes it, so each call answers for the caller's namespace.
/// (System.Net.NetworkInformation reads MTUs from /sys/class/net, which shows the namespace that
/// mounted /sys: under <c>nsenter --net</c>, the host's interfaces.)
/// </summary>
internal sealed unsafe partial class Routes : INetworkTables
{
    private const int AF_NETLINK = 16, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000, NETLINK_ROUTE = 0;
    private const ushort NLMSG_ERROR = 2, NLMSG_DONE = 3;
    private const ushort NLM_F_REQUEST = 1, NLM_F_DUMP = 0x300, NLA_TYPE_MASK = 0x3fff;
    private const ushort RTM_NEWLINK = 16, RTM_GETLINK = 18, RTM_NEWADDR = 20, RTM_GETADDR = 22, RTM_NEWROUTE = 24, RTM_GETROUTE = 26;
    private const ushort IFLA_IFNAME = 3, IFLA_MTU = 4, IFA_ADDRESS = 1, IFA_LOCAL = 2;
    private const ushort RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PREFSRC = 7;
    private const byte RTN_LOCAL = 2;
    private const uint IFF_LOOPBACK = 0x8;
    private const int ENETUNREACH = 101, EHOSTUNREACH = 113;
    private const int NlmsgHeader = 16, IfInfoMsg = 16, IfAddrMsg = 8, RtMsg = 12, AttrHeader = 4;

    public IReadOnlyList<LinkInfo> Links()
    {
        var links = new List<LinkInfo>();
        foreach (var (type, body) in Ask(RTM_GETLINK, NLM_F_DUMP, new byte[IfInfoMsg], "list interfaces"))
        {
            if (type != RTM_NEWLINK || body.Length < IfInfoMsg)
                continue;
            var index = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(4));
            var flags = BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(8));
            string? name = null;
            var mtu = 0;
            foreach (var (attr, value) in Attributes(body, IfInfoMsg))
            {
                if (attr == IFLA_IFNAME)
                    name = Encoding.UTF8.GetString(value.Span).TrimEnd('\0');
                else if (attr == IFLA_MTU && value.Length >= 4)
                    mtu = BinaryPrimitives.ReadInt32LittleEndian(value.Span);
            }
            if (name is not null)
                links.Add(new LinkInfo(index, name, mtu, (flags & IFF_LOOPBACK) != 0));
        }
        return links;
    }

    public IReadOnlyList<LocalAddress> Addresses()
    {
        var addresses = new List<LocalAddress>();
        foreach (var (type, body) in Ask(RTM_GETADDR, NLM_F_DUMP, new byte[IfAddrMsg], "list addresses"))
        {
            if (type != RTM_NEWADDR || body.Length < IfAddrMsg)
                continue;
            var index = (int)BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(4));
            IPAddress? address = null, local = null;
            foreach (var (attr, value) in Attributes(body, IfAddrMsg))
            {
                // IFA_LOCAL is the interface's own address on IPv4 (IFA_ADDRESS is the peer's on a
                // point-to-point link); IPv6 gives only IFA_ADDRESS.
                if (attr == IFA_ADDRESS)
                    address = ToAddress(value.Span);
                else if (attr == IFA_LOCAL)
                    local = ToAddress(value.Span);
            }
            if ((local ?? address) is { } a)
                addresses.Add(new LocalAddress(index, a));
        }
        return addresses;
    }

    public RouteInfo? RouteTo(IPAddress destination)
    {
        var bytes = destination.GetAddressBytes();
        var request = new byte[RtMsg + AttrHeader + bytes.Length];
        request[0] = destination.AddressFamily == AddressFamily.InterNetwork ? (byte)2 : (byte)10;
        request[1] = (byte)(bytes.Length * 8);
        BinaryPrimitives.WriteUInt16LittleEndian(request.AsSpan(RtMsg), (ushort)(AttrHeader + bytes.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(request.AsSpan(RtMsg + 2), RTA_DST);
        bytes.CopyTo(request, RtMsg + AttrHeader);
        List<(ushort, byte[])> answer;
        try
        {
            answer = Ask(RTM_GETROUTE, 0, request, $"route to {destination}");
        }
        catch (NetlinkException e) when (e.Errno is ENETUNREACH or EHOSTUNREACH)
        {
            return null;
        }
        foreach (var (type, body) in answer)
        {
            if (type != RTM_NEWROUTE || body.Length < RtMsg)
                continue;
            int oif = 0;
            IPAddress? source = null, gateway = null;
            foreach (var (attr, value) in Attributes(body, RtMsg))
            {
                if (attr == RTA_OIF && value.Length >= 4)
                    oif = BinaryPrimitives.ReadInt32LittleEndian(value.Span);
                else if (attr == RTA_PREFSRC)
                    source = ToAddress(value.Span);
                else if (attr == RTA_GATEWAY)
                    gateway = ToAddress(value.Span);
            }
            return new RouteInfo(oif, source, gateway, body[7] == RTN_LOCAL);
        }
        return null;
    }

    // Read from procfs, which answers for the reading thread's namespace as the socket does.
    public bool Forwards(string name, AddressFamily family) =>
        File.ReadAllText($"/proc/sys/net/{SysctlFamily(family)}/conf/{name}/forwarding").Trim() != "0";

    public static string SysctlFamily(AddressFamily family) => family == AddressFamily.InterNetwork ? "ipv4" : "ipv6";

    private static IPAddress? ToAddress(ReadOnlySpan<byte> value) => value.Length is 4 or 16 ? new IPAddress(value) : null;

    private static List<(ushort Type, ReadOnlyMemory<byte> Value)> Attributes(byte[] buffer, int offset)
    {
        var list = new List<(ushort, ReadOnlyMemory<byte>)>();
        while (offset + AttrHeader <= buffer.Length)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offset));
            if (length < AttrHeader || offset + length > buffer.Length)
                break;
            var type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offset + 2)) & NLA_TYPE_MASK);
            list.Add((type, buffer.AsMemory(offset + AttrHeader, length - AttrHeader)));
            offset += Align(length);
        }
        return list;
    }

    private static int Align(int length) => (length + 3) & ~3;

    /// <summary>Sends one request and gathers its answer's messages (type, body after the header) until the end.</summary>
    private static List<(ushort Type, byte[] Body)> Ask(ushort type, ushort flags, byte[] payload, string what)
    {
        var fd = Socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
            throw new NetlinkException(what, Marshal.GetLastPInvokeError());
        try
        {
            var request = new byte[NlmsgHeader + payload.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(request, (uint)request.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(request.AsSpan(4), type);
            BinaryPrimitives.WriteUInt16LittleEndian(request.AsSpan(6), (ushort)(NLM_F_REQUEST | flags));
            BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(8), 1);
            payload.CopyTo(request, NlmsgHeader);
            fixed (byte* r = request)
                if (Send(fd, r, (nuint)request.Length, 0) < 0)
                    throw new NetlinkException(what, Marshal.GetLastPInvokeError());
            var messages = new List<(ushort, byte[])>();
            var buffer = new byte[64 * 1024];
            while (true)
            {
                nint n;
                fixed (byte* b = buffer)
                    n = Recv(fd, b, (nuint)buffer.Length, 0);
                if (n < 0)
                    throw new NetlinkException(what, Marshal.GetLastPInvokeError());
                for (var offset = 0; offset + NlmsgHeader <= n;)
                {
                    var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset));
                    if (length < NlmsgHeader || offset + length > n)
                        break;
                    var messageType = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(offset + 4));
                    var body = buffer.AsSpan(offset + NlmsgHeader, length - NlmsgHeader);
                    if (messageType == NLMSG_DONE)
                        return messages;
                    if (messageType == NLMSG_ERROR)
                    {
                        var error = BinaryPrimitives.ReadInt32LittleEndian(body);
                        if (error != 0)
                            throw new NetlinkException(what, -error);
                        return messages;
                    }
                    messages.Add((messageType, body.ToArray()));
                    offset += Align(length);
                }
                // A request that is no dump has one answer message and no NLMSG_DONE.
                if ((flags & NLM_F_DUMP) == 0 && messages.Count > 0)
                    return messages;
            }
        }
        finally
        {
            Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint Send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}

/// <summary>The kernel refused an rtnetlink request.</summary>
internal sealed class NetlinkException(string what, int errno)
    : IOException($"rtnetlink: {what}: {Marshal.GetPInvokeErrorMessage(errno)}")
{
    public int Errno { get; } = errno;
}
