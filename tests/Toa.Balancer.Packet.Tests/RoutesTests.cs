// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Lab;
using Toa.Testing;

namespace Toa.Balancer.Packet.Tests;

/// <summary>The rtnetlink client inside lab namespaces: what `ip route get`, `ip link` and `ip addr` would say there.</summary>
public sealed class RoutesTests
{
    [Fact]
    public void RouteTo_ViaAGateway_GivesItsInterfaceSourceAndGateway()
    {
        KernelTest.Require("root (network namespaces)");
        using var network = Network.Create("toa-routes");
        var lb = network.AddHost("lb");
        var router = network.AddHost("router");
        var link = network.Connect(lb, router);
        lb.Ip("route", "add", "10.99.0.0/24", "via", link.B.Ipv4.ToString());
        lb.Ip("-6", "route", "add", "fd00:99::/64", "via", link.B.Ipv6.ToString());

        var (links, v4, v6, onLink, local, none) = lb.Enter(() =>
        {
            var routes = new Routes();
            return (routes.Links(), routes.RouteTo(IPAddress.Parse("10.99.0.5")), routes.RouteTo(IPAddress.Parse("fd00:99::5")),
                routes.RouteTo(link.B.Ipv4), routes.RouteTo(link.A.Ipv4), routes.RouteTo(IPAddress.Parse("203.0.113.1")));
        });

        var eth = links.Single(l => l.Name == link.A.Name);
        Assert.NotNull(v4);
        Assert.Equal(new RouteInfo(eth.Index, link.A.Ipv4, link.B.Ipv4, Local: false), v4);
        Assert.Equal(new RouteInfo(eth.Index, link.A.Ipv6, link.B.Ipv6, Local: false), v6);
        Assert.Equal(new RouteInfo(eth.Index, link.A.Ipv4, null, Local: false), onLink);
        Assert.True(local!.Local);
        // The namespace has no default route.
        Assert.Null(none);
    }

    [Fact]
    public void LinksAndAddresses_InANamespace_AreItsOwn()
    {
        KernelTest.Require("root (network namespaces)");
        using var network = Network.Create("toa-links");
        var lb = network.AddHost("lb");
        var peer = network.AddHost("peer");
        var link = network.Connect(lb, peer);
        lb.Ip("link", "set", link.A.Name, "mtu", "1400");

        var (links, addresses) = lb.Enter(() => (new Routes().Links(), new Routes().Addresses()));

        var eth = links.Single(l => l.Name == link.A.Name);
        Assert.Equal(1400, eth.Mtu);
        Assert.False(eth.Loopback);
        Assert.True(links.Single(l => l.Name == "lo").Loopback);
        Assert.Equal(new[] { "lo", link.A.Name }.Order(), links.Select(l => l.Name).Order());
        Assert.Contains(new LocalAddress(eth.Index, link.A.Ipv4), addresses);
        Assert.Contains(new LocalAddress(eth.Index, link.A.Ipv6), addresses);
        Assert.DoesNotContain(addresses, a => a.Address.Equals(link.B.Ipv4));
    }
}
