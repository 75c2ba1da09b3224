// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Toa.Lab;
using Toa.Testing;
using Toa.Wire;

namespace Toa.Balancer.Packet.Tests;

/// <summary>The engine over a fake datapath but the kernel's own tables and sysctls, inside lab namespaces (never the host's).</summary>
public sealed class EngineNamespaceTests
{
    private const string Reserved = LocalPorts.Sysctls + "/ip_local_reserved_ports";

    [Fact]
    public void Reserve_InANamespace_WritesItsSysctlBesideOthersAndNotTheHosts()
    {
        KernelTest.Require("root (network namespaces)");
        var hosts = File.ReadAllText(Reserved);
        using var network = Network.Create("toa-ports");
        var lb = network.AddHost("lb");

        var (reserved, released) = lb.Enter(() =>
        {
            File.WriteAllText(Reserved, "22,8080\n");
            var ports = new LocalPorts();
            var added = ports.Reserve(61000, 65535);
            var reserved = File.ReadAllText(Reserved);
            ports.Release(added);
            return (reserved, File.ReadAllText(Reserved));
        });

        Assert.Equal("22,8080,61000-65535\n", reserved);
        Assert.Equal("22,8080\n", released);
        Assert.Equal(hosts, File.ReadAllText(Reserved));
    }

    [Fact]
    public void Forwards_InANamespace_ReadsItsOwnSysctl()
    {
        KernelTest.Require("root (network namespaces)");
        using var network = Network.Create("toa-fwd");
        var lb = network.AddHost("lb");
        var peer = network.AddHost("peer");
        var link = network.Connect(lb, peer);
        Shell.Run("ip", "netns", "exec", lb.Namespace, "sysctl", "-qw", $"net.ipv6.conf.{link.A.Name}.forwarding=1");

        var (v4, v6) = lb.Enter(() => (new Routes().Forwards(link.A.Name, AddressFamily.InterNetwork), new Routes().Forwards(link.A.Name, AddressFamily.InterNetworkV6)));

        Assert.False(v4);
        Assert.True(v6);
    }

    [Fact]
    public void Apply_InABalancerNamespace_AttachesWhereTheVipAndTheRouteToTheBackendAre()
    {
        KernelTest.Require("root (network namespaces)");
        using var network = Network.Create("toa-engine");
        var client = network.AddHost("client");
        var lb = network.AddHost("lb");
        var server = network.AddHost("server");
        var toClient = network.Connect(client, lb);
        var toServer = network.Connect(lb, server);
        lb.Ip("link", "set", toServer.A.Name, "mtu", "1450");
        // The backend sits behind the server's host, a gateway away.
        lb.Ip("route", "add", "10.99.0.0/24", "via", toServer.B.Ipv4.ToString());
        Shell.Run("ip", "netns", "exec", lb.Namespace, "sysctl", "-qw", "net.ipv4.conf.all.forwarding=1");
        var datapath = new FakeDatapath();
        var vip = new IPEndPoint(toClient.B.Ipv4, 80);

        var (links, attached, mss, snat) = lb.Enter(() =>
        {
            var engine = new FullnatEngine(NullLoggerFactory.Instance, new FakeTimeProvider(), _ => datapath, ports: new LocalPorts());
            engine.Prepare(new PacketEngineSettings(100, 61000, 65535));
            engine.Apply([new PacketListener("web", vip, new ToaSettings(ToaFormat.Tencent, false), null, null, null,
                TimeSpan.FromMinutes(1), [IPEndPoint.Parse("10.99.0.5:8080")], [.. Enumerable.Repeat(0, PacketListener.TableSize)])]);
            engine.DisposeAsync().AsTask().Wait();
            return (new Routes().Links(), datapath.Calls.Where(c => c.StartsWith("attach", StringComparison.Ordinal)).ToList(),
                datapath.Vips[vip].Mss, FakeDatapath.SnatOf(datapath.Backends[0]));
        });

        int Index(string name) => links.Single(l => l.Name == name).Index;
        Assert.Equal([$"attach {Index(toClient.B.Name)}", $"attach {Index(toServer.A.Name)}"], attached.Order());
        Assert.Equal(1450 - 20 - 20 - 8, mss);
        Assert.Equal(toServer.A.Ipv4, snat);
    }
}
