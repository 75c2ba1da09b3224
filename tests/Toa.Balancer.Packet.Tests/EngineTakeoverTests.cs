// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Toa.Lab;
using Toa.Testing;
using Toa.Wire;

namespace Toa.Balancer.Packet.Tests;

/// <summary>
/// The engine over the real datapath in a balancer namespace: a connection made through one process's
/// engine goes on through the next one's, which takes over the pins the first left when it was killed;
/// a graceful stop then takes filters and pins away.
/// </summary>
public sealed class EngineTakeoverTests
{
    private const string PinRoot = "/sys/fs/bpf/toa-tests";
    private static int s_counter;

    [Fact]
    public async Task Restart_AfterAKill_TakesOverTheConnectionsAndAGracefulStopRemovesAll()
    {
        KernelTest.Require("root, BPF and network namespaces");
        var pins = $"{PinRoot}/engine-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}";
        using var network = Network.Create("toa-takeover");
        IFullnatDatapath? killed = null;
        try
        {
            var client = network.AddHost("client");
            var lb = network.AddHost("lb");
            var server = network.AddHost("server");
            var toClient = network.Connect(client, lb);
            var toServer = network.Connect(lb, server);
            Shell.Run("ip", "netns", "exec", lb.Namespace, "sysctl", "-qw", "net.ipv4.conf.all.forwarding=1");
            var vip = new IPEndPoint(toClient.B.Ipv4, 80);
            var backend = new IPEndPoint(toServer.B.Ipv4, 8000);
            using var echo = server.StartEchoServer(backend.Address, backend.Port);
            var listener = new PacketListener("web", vip, new ToaSettings(ToaFormat.Tencent, false), null, null, null,
                TimeSpan.FromMinutes(1), [backend], [.. Enumerable.Repeat(0, PacketListener.TableSize)]);
            var settings = new PacketEngineSettings(MaxConnections: 512, PortMin: 61000, PortMax: 65535);
            FullnatEngine Engine(Action<IFullnatDatapath>? opened = null) =>
                new(NullLoggerFactory.Instance, new FakeTimeProvider(), s =>
                {
                    var datapath = FullnatDatapath.Open(pins, s.MaxConnections * 2);
                    opened?.Invoke(datapath);
                    return datapath;
                }, new Routes(), new LocalPorts(), pins, () => FullnatDatapath.Remove(pins, []));

            // The first process: started, then killed (its descriptors closed, nothing removed).
            lb.Enter(() =>
            {
                var first = Engine(d => killed = d);
                first.Prepare(settings);
                first.Apply([listener]);
                return first;
            });
            using var socket = client.Enter(() =>
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Connect(vip);
                return s;
            });
            Assert.Equal("one", await EchoAsync(socket, "one"));
            killed!.Dispose();

            var second = lb.Enter(() =>
            {
                var engine = Engine();
                engine.Prepare(settings);
                engine.Apply([listener]);
                engine.Sweep();
                return engine;
            });
            var reserved = lb.Enter(() => File.ReadAllText(LocalPorts.Sysctls + "/ip_local_reserved_ports"));
            Assert.Equal("two", await EchoAsync(socket, "two"));
            var counts = second.Counts();
            lb.Enter(() =>
            {
                second.DisposeAsync().AsTask().GetAwaiter().GetResult();
                return 0;
            });
            var filters = Shell.Run("ip", "netns", "exec", lb.Namespace, "tc", "filter", "show", "dev", toClient.B.Name, "ingress");

            Assert.Equal("61000-65535\n", reserved);
            Assert.Equal(1, counts.Listeners["web"].Connections);
            Assert.Equal(1, counts.Listeners["web"].Active);
            Assert.Equal(1, counts.Backends[("web", backend)].Active);
            Assert.False(Directory.Exists(pins));
            Assert.Equal("", filters.Trim());
            Assert.Equal("", lb.Enter(() => File.ReadAllText(LocalPorts.Sysctls + "/ip_local_reserved_ports")).Trim());
        }
        finally
        {
            FullnatDatapath.Remove(pins, []);
        }
    }

    private static async Task<string> EchoAsync(Socket socket, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.SendAsync(Encoding.ASCII.GetBytes(text), timeout.Token);
        var buffer = new byte[64];
        var n = await socket.ReceiveAsync(buffer, timeout.Token);
        return Encoding.ASCII.GetString(buffer, 0, n);
    }
}
