// SPDX-License-Identifier: MIT
using System.Net;

namespace Toa.Lab;

/// <summary>
/// The hosts of a load balancer in front of a real server: an IPv4 client and an IPv6 client, each
/// linked to the balancer host, and the balancer linked to the server. Disposing stops the hosts'
/// processes and deletes the namespaces.
/// </summary>
public sealed class BalancerNetwork : IDisposable
{
    private readonly Network _network;

    /// <summary>Creates the four hosts and three links, named after <paramref name="prefix"/>.</summary>
    public BalancerNetwork(string prefix)
    {
        _network = Network.Create(prefix);
        try
        {
            Client4 = _network.AddHost("client4");
            Client6 = _network.AddHost("client6");
            Balancer = _network.AddHost("lb");
            Server = _network.AddHost("server");
            ToClient4 = _network.Connect(Client4, Balancer);
            ToClient6 = _network.Connect(Client6, Balancer);
            ToServer = _network.Connect(Balancer, Server);
        }
        catch
        {
            _network.Dispose();
            throw;
        }
    }

    /// <summary>The IPv4 client's host.</summary>
    public Host Client4 { get; }

    /// <summary>The IPv6 client's host.</summary>
    public Host Client6 { get; }

    /// <summary>The balancer's host.</summary>
    public Host Balancer { get; }

    /// <summary>The real server's host.</summary>
    public Host Server { get; }

    /// <summary>The IPv4 client (A) to the balancer (B).</summary>
    public Link ToClient4 { get; }

    /// <summary>The IPv6 client (A) to the balancer (B).</summary>
    public Link ToClient6 { get; }

    /// <summary>The balancer (A) to the server (B).</summary>
    public Link ToServer { get; }

    /// <summary>The IPv4 client's own address.</summary>
    public IPAddress Client4Address => ToClient4.A.Ipv4;

    /// <summary>The IPv6 client's own address.</summary>
    public IPAddress Client6Address => ToClient6.A.Ipv6;

    /// <summary>The balancer's address facing the IPv4 client.</summary>
    public IPAddress BalancerFor4 => ToClient4.B.Ipv4;

    /// <summary>The balancer's address facing the IPv6 client.</summary>
    public IPAddress BalancerFor6 => ToClient6.B.Ipv6;

    /// <summary>The balancer's own address toward the server: what the server sees without TOA.</summary>
    public IPAddress BalancerToServer => ToServer.A.Ipv4;

    /// <summary>The real server's address.</summary>
    public IPAddress ServerAddress => ToServer.B.Ipv4;

    /// <summary>The server's interface, for captures.</summary>
    public string ServerInterface => ToServer.B.Name;

    /// <inheritdoc />
    public void Dispose() => _network.Dispose();
}
