// SPDX-License-Identifier: MIT
using System.Net;

namespace Toa.Lab;

/// <summary>
/// Hosts (network namespaces) joined by veth links, with private addresses that
/// exist only inside them. Names carry the process id and a counter, so labs of
/// parallel tests never collide; disposing stops the hosts' processes and
/// deletes the namespaces.
/// </summary>
public sealed class Network : IDisposable
{
    private static int s_counter;
    private readonly List<Host> _hosts = [];
    private readonly string _prefix;
    private int _links;

    private Network(string prefix) => _prefix = prefix;

    /// <summary>Creates an empty lab whose namespaces are named after <paramref name="prefix"/>.</summary>
    public static Network Create(string prefix) =>
        new($"{prefix}-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}");

    /// <summary>The hosts so far.</summary>
    public IReadOnlyList<Host> Hosts => _hosts;

    /// <summary>Adds a host: a namespace with loopback up.</summary>
    public Host AddHost(string name)
    {
        var host = new Host($"{_prefix}-{name}", name);
        Shell.Run("ip", "netns", "add", host.Namespace);
        _hosts.Add(host);
        host.Ip("link", "set", "lo", "up");
        return host;
    }

    /// <summary>
    /// Joins two hosts with a veth pair and gives each end an address in a fresh
    /// subnet: 10.200.N.1/24 and fd00:200:N::1/64 for <paramref name="a"/>, .2 and ::2 for <paramref name="b"/>.
    /// </summary>
    public Link Connect(Host a, Host b)
    {
        var n = ++_links;
        var ifA = $"eth{a.Interfaces.Count}";
        var ifB = $"eth{b.Interfaces.Count}";
        Shell.Run("ip", "link", "add", "name", ifA, "netns", a.Namespace, "type", "veth", "peer", "name", ifB, "netns", b.Namespace);
        var link = new Link(
            new Interface(a, ifA, IPAddress.Parse($"10.200.{n}.1"), IPAddress.Parse($"fd00:200:{n}::1")),
            new Interface(b, ifB, IPAddress.Parse($"10.200.{n}.2"), IPAddress.Parse($"fd00:200:{n}::2")));
        foreach (var end in new[] { link.A, link.B })
        {
            end.Host.Ip("addr", "add", $"{end.Ipv4}/24", "dev", end.Name);
            end.Host.Ip("-6", "addr", "add", $"{end.Ipv6}/64", "dev", end.Name, "nodad");
            end.Host.Ip("link", "set", end.Name, "up");
            end.Host.Interfaces.Add(end);
        }
        return link;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var host in _hosts)
            host.Dispose();
        _hosts.Clear();
    }
}

/// <summary>A veth pair between two hosts.</summary>
public sealed record Link(Interface A, Interface B);

/// <summary>One end of a link: a host's interface and its addresses.</summary>
public sealed record Interface(Host Host, string Name, IPAddress Ipv4, IPAddress Ipv6)
{
    /// <summary>The address of <paramref name="family"/> ("4" or "6").</summary>
    public IPAddress Address(System.Net.Sockets.AddressFamily family) =>
        family == System.Net.Sockets.AddressFamily.InterNetworkV6 ? Ipv6 : Ipv4;
}
