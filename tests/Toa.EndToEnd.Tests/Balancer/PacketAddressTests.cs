// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// What real servers behind a packet listener (FULLNAT in the balancer's kernel) see, across
/// namespaces, with the receiver loaded on the server: the C sample (getsockopt 4096 first, else
/// getpeername), the server's tcpdump (an oracle we did not write: where the option is, whether
/// every checksum holds) and the balancer's own sockets (none for a relayed connection).
/// </summary>
public sealed partial class PacketAddressTests(PacketAddressTests.Topology topology) : IClassFixture<PacketAddressTests.Topology>
{
    private const int CServerPort = 8000;
    private const int EchoPort = 8100;
    private const int ToaPort = 80;
    private const int EchoListenerPort = 82;

    [Fact]
    public async Task Ipv4Client_PacketListener_AcceptAndGetPeerNameGiveTheClientsAddressAndPort()
    {
        var lab = topology.Require();

        var client = await BalancerLab.EchoLineAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, ToaPort));

        var server = topology.CServer;
        await server.WaitForLineAsync(l => l == $"real client v4 [{client.Address}]:{client.Port}", TimeSpan.FromSeconds(30));
        Assert.Contains($"accepted v4 [{client.Address}]:{client.Port}", server.Output);
    }

    [Fact]
    public async Task Ipv6Client_Nat64ToIpv4Backend_GetSockOpt4096GivesTheClientsIpv6AndPort()
    {
        var lab = topology.Require();

        var client = await BalancerLab.EchoLineAsync(lab.Hosts.Client6, new IPEndPoint(lab.Hosts.BalancerFor6, ToaPort));

        var server = topology.CServer;
        var real = $"real client v6 [{client.Address}]:{client.Port}";
        await server.WaitForLineAsync(l => l == real, TimeSpan.FromSeconds(30));
        // accept() on the IPv4 socket keeps the balancer's IPv4 address (NAT64), as with toa.ko.
        var lines = server.Output;
        Assert.StartsWith($"accepted v4 [{lab.Hosts.BalancerToServer}]:", lines[lines.ToList().IndexOf(real) - 1]);
    }

    [Fact]
    public async Task ServerCapture_OptionOnlyOnTheHandshakeAckAndFirstData_EveryChecksumCorrect()
    {
        var lab = topology.Require();
        var capture = await lab.Hosts.Server.CaptureAsync(lab.Hosts.ServerInterface, $"tcp port {CServerPort} and host {lab.Hosts.BalancerToServer}");
        await using var _ = capture;

        IPEndPoint client;
        using (var socket = await BalancerLab.ConnectAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, ToaPort)))
        {
            client = (IPEndPoint)socket.LocalEndPoint!;
            // Each line's echo comes back before the next goes: the second line leaves after the
            // backend has acknowledged the first data, so it must go without the option.
            await EchoAsync(socket, "hello\n");
            await EchoAsync(socket, "second line\n");
            socket.Shutdown(SocketShutdown.Send);
            Assert.Empty(await PacketLab.ReadAllAsync(socket).WaitAsync(TimeSpan.FromSeconds(30)));
        }
        // Health checks end connections to the same port: the end looked for is the client's FIN after its second line.
        await capture.StopAsync(packets => packets.SkipWhile(p => !p.Contains("length 12", StringComparison.Ordinal))
            .Any(p => p.Contains($".{CServerPort}: Flags [F", StringComparison.Ordinal)));

        var packets = capture.ReadTcpdump("-vv");
        var snat = SnatPortOf(packets, length: 6);
        var connection = packets.Where(p => p.Contains($"{lab.Hosts.BalancerToServer}.{snat} > ", StringComparison.Ordinal)
            || p.Contains($" > {lab.Hosts.BalancerToServer}.{snat}:", StringComparison.Ordinal)).ToList();
        var toa = PacketLab.ToaText(200, client);
        var fromClient = connection.Where(p => p.Contains($"{lab.Hosts.BalancerToServer}.{snat} > ", StringComparison.Ordinal)).ToList();
        var withOption = fromClient.Where(p => p.Contains(toa, StringComparison.Ordinal)).ToList();
        Assert.True(withOption.Count == 2, $"the option on other segments than the handshake ACK and the first data:\n{string.Join('\n', connection)}");
        Assert.Contains("Flags [.]", withOption[0], StringComparison.Ordinal);
        Assert.Contains("length 0", withOption[0], StringComparison.Ordinal);
        Assert.Same(fromClient[1], withOption[0]); // the one after the SYN
        Assert.Matches(@"Flags \[P\.\].* length 6\b", withOption[1]);
        Assert.DoesNotContain(connection, p => p.Contains("unknown-", StringComparison.Ordinal) && !p.Contains(toa, StringComparison.Ordinal));
        Assert.DoesNotContain(connection, PacketLab.BadChecksum);
        // -vv checks every TCP checksum it can: one verdict per packet.
        Assert.All(connection, p => Assert.Contains("(correct)", p, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ForgedToa_TheServerNeverSeesTheClientsForgedAddress()
    {
        var lab = topology.Require();
        const string forged = "198.51.100.9:999";
        var clientSide = await lab.Hosts.Client4.CaptureAsync(lab.Hosts.ToClient4.A.Name, $"tcp port {ToaPort}");
        var serverSide = await lab.Hosts.Server.CaptureAsync(lab.Hosts.ServerInterface, $"tcp dst port {CServerPort}");
        await using var _ = clientSide;
        await using var __ = serverSide;

        var result = await lab.Hosts.Client4.RunToaAsync("hello\n", "connect", $"{lab.Hosts.BalancerFor4}:{ToaPort}", "--as", forged, "--verbose");
        Assert.True(result.ExitCode == 0, result.StandardError);
        Assert.Equal("hello", result.StandardOutput);
        var connected = result.StandardError.Split('\n').First(l => l.Contains("connected ", StringComparison.Ordinal));
        var client = IPEndPoint.Parse(connected[(connected.IndexOf("connected ", StringComparison.Ordinal) + 10)..connected.IndexOf(" -> ", StringComparison.Ordinal)]);
        var real = PacketLab.ToaText(200, client);
        await Task.WhenAll(clientSide.StopAsync(PacketCapture.Ended(ToaPort)),
            serverSide.StopAsync(packets => packets.Any(p => p.Contains(real, StringComparison.Ordinal) && p.Contains("Flags [P.]", StringComparison.Ordinal))));

        var forgedText = PacketLab.ToaText(200, IPEndPoint.Parse(forged));
        Assert.Contains(clientSide.ReadTcpdump(), p => p.Contains(forgedText, StringComparison.Ordinal));
        var toServer = serverSide.ReadTcpdump();
        Assert.DoesNotContain(toServer, p => p.Contains(forgedText, StringComparison.Ordinal));
        Assert.Contains(toServer, p => p.Contains(real, StringComparison.Ordinal));
        await topology.CServer.WaitForLineAsync(l => l == $"real client v4 [{client.Address}]:{client.Port}", TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(topology.CServer.Output, l => l.Contains("198.51.100.9", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RelayedConnection_TheBalancerHoldsNoSocketForIt()
    {
        var lab = topology.Require();
        using var socket = await BalancerLab.ConnectAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, EchoListenerPort));
        var client = (IPEndPoint)socket.LocalEndPoint!;
        await EchoAsync(socket, "open\n");

        // The server's kernel knows the connection's peer (ss asks it, not getpeername): the SNAT address
        // and one of the engine's ports (health checks come from the balancer's ephemeral ones, below).
        var onServer = (await PacketLab.SocketsAsync(lab.Hosts.Server))
            .Where(l => l.StartsWith("ESTAB", StringComparison.Ordinal) && l.Contains($"{lab.Hosts.ServerAddress}:{EchoPort} ", StringComparison.Ordinal))
            .Select(l => IPEndPoint.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]))
            .Where(p => p.Port >= PacketFixture.FirstEnginePort).ToList();
        var onBalancer = await PacketLab.SocketsAsync(lab.Hosts.Balancer);

        var peer = Assert.Single(onServer);
        Assert.Equal(lab.Hosts.BalancerToServer, peer.Address);
        Assert.DoesNotContain(onBalancer, l => l.Contains($"{client.Address}:{client.Port}", StringComparison.Ordinal));
        Assert.DoesNotContain(onBalancer, l => l.Contains($":{EchoListenerPort} ", StringComparison.Ordinal));
        Assert.DoesNotContain(onBalancer, l => l.Contains($" {peer} ", StringComparison.Ordinal) || l.EndsWith($" {peer}", StringComparison.Ordinal));
    }

    private static async Task EchoAsync(Socket socket, string line)
    {
        var bytes = Encoding.ASCII.GetBytes(line);
        await socket.SendAsync(bytes);
        var echoed = new byte[bytes.Length];
        var length = 0;
        while (length < echoed.Length)
        {
            var n = await socket.ReceiveAsync(echoed.AsMemory(length)).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotEqual(0, n);
            length += n;
        }
        Assert.Equal(line, Encoding.ASCII.GetString(echoed));
    }

    /// <summary>The SNAT port of the connection whose first data segment is <paramref name="length"/> bytes (health checks send none).</summary>
    private static string SnatPortOf(IReadOnlyList<string> packets, int length) =>
        packets.Select(p => DataSegment().Match(p)).FirstOrDefault(m => m.Success && m.Groups[2].Value == $"{length}")?.Groups[1].Value
            ?? throw new Xunit.Sdk.XunitException($"no {length}-byte segment to the server among:\n{string.Join('\n', packets)}");

    [GeneratedRegex(@"\d+\.\d+\.\d+\.\d+\.(\d+) > \S+: Flags \[P\.\].* length (\d+)")]
    private static partial Regex DataSegment();

    /// <summary>The hosts, the receiver, the C server, an echo server and <c>toa lb</c> with packet listeners.</summary>
    public sealed class Topology : PacketFixture
    {
        private EchoServer? _echo;

        public LabProcess CServer { get; private set; } = null!;

        protected override async Task StartPacketAsync(BalancerLab lab)
        {
            CServer = await lab.StartCServerAsync(CServerPort);
            _echo = lab.Hosts.Server.StartEchoServer(lab.Hosts.ServerAddress, EchoPort);
            IPEndPoint[] cServer = [new(lab.Hosts.ServerAddress, CServerPort)];
            await StartBalancerAsync(lab, Config(
                Listener("toa4", new(lab.Hosts.BalancerFor4, ToaPort), "tencent", cServer),
                Listener("toa6", new(lab.Hosts.BalancerFor6, ToaPort), "tencent", cServer),
                Listener("echo4", new(lab.Hosts.BalancerFor4, EchoListenerPort), "tencent", [new(lab.Hosts.ServerAddress, EchoPort)])), listeners: 3);
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            _echo?.Dispose();
        }
    }
}
