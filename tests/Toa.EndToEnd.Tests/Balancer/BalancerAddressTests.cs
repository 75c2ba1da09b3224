// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// What real servers behind <c>toa lb</c> see, across namespaces, with the receiver loaded on the
/// server: the C sample (getsockopt 4096 first, else getpeername) and the WhoAmI sample. The
/// server's tcpdump, an oracle we did not write, shows what went on the wire.
/// </summary>
public sealed partial class BalancerAddressTests(BalancerAddressTests.Topology topology) : IClassFixture<BalancerAddressTests.Topology>
{
    private const int CServerPort = 8000;
    private const int WhoAmIPort = 8080;
    private const int ToaPort = 80;
    private const int PlainPort = 81;

    [Fact]
    public async Task Ipv4Client_ToIpv4Server_GetPeerNameGivesTheClientsOwnAddressAndPort()
    {
        var lab = topology.Require();

        var (client, packets, server) = await ExchangeAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, ToaPort));

        Assert.Equal($"accepted v4 [{client.Address}]:{client.Port}", server[0]);
        Assert.Contains($"real client v4 [{client.Address}]:{client.Port}", server);
        AssertCarried(packets, ToaText(200, client));
    }

    [Fact]
    public async Task Ipv6Client_ToIpv4Server_GetSockOpt4096GivesTheClientsIpv6AndPort()
    {
        var lab = topology.Require();

        var (client, packets, server) = await ExchangeAsync(lab.Hosts.Client6, new IPEndPoint(lab.Hosts.BalancerFor6, ToaPort));

        Assert.Contains($"real client v6 [{client.Address}]:{client.Port}", server);
        // accept() and getpeername() on the IPv4 socket keep the balancer's address (NAT64), as with toa.ko.
        Assert.StartsWith($"accepted v4 [{lab.Hosts.BalancerToServer}]:", server[0]);
        AssertCarried(packets, ToaText(253, client));
    }

    [Fact]
    public async Task ToaOff_ServerSeesTheBalancerAndNoOptionIsSent()
    {
        var lab = topology.Require();

        var (_, packets, server) = await ExchangeAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, PlainPort));

        Assert.StartsWith($"accepted v4 [{lab.Hosts.BalancerToServer}]:", server[0]);
        Assert.Contains(server, l => l.StartsWith($"real client v4 [{lab.Hosts.BalancerToServer}]:", StringComparison.Ordinal));
        Assert.DoesNotContain(packets, p => p.Contains("unknown-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ForgedToa_TheClientsOwnOptionEndsAtTheBalancer()
    {
        var lab = topology.Require();
        const string forged = "198.51.100.9:999";
        var clientSide = await lab.Hosts.Balancer.CaptureAsync(lab.Hosts.ToClient4.B.Name, $"tcp port {ToaPort}");
        var serverSide = await lab.Hosts.Server.CaptureAsync(lab.Hosts.ServerInterface, $"tcp port {CServerPort}");

        var result = await lab.Hosts.Client4.RunToaAsync("hello\n", "connect", $"{lab.Hosts.BalancerFor4}:{ToaPort}", "--as", forged, "--verbose");
        await Task.WhenAll(clientSide.StopAsync(PacketCapture.Ended(ToaPort)), serverSide.StopAsync(HasDataSegment));
        await using var _ = clientSide;
        await using var __ = serverSide;

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("hello", result.StandardOutput);
        var local = result.StandardError.Split('\n').First(l => l.Contains("connected ", StringComparison.Ordinal));
        var client = IPEndPoint.Parse(local[(local.IndexOf("connected ", StringComparison.Ordinal) + 10)..local.IndexOf(" -> ", StringComparison.Ordinal)]);
        var forgedText = ToaText(200, IPEndPoint.Parse(forged));
        Assert.Contains(clientSide.ReadTcpdump(), p => p.Contains(forgedText, StringComparison.Ordinal));
        var toServer = serverSide.ReadTcpdump();
        Assert.DoesNotContain(toServer, p => p.Contains(forgedText, StringComparison.Ordinal));
        AssertCarried(toServer, ToaText(200, client));
        var server = await ServerConnectionAsync($"[{client.Address}]:{client.Port}");
        Assert.Contains($"real client v4 [{client.Address}]:{client.Port}", server);
        Assert.DoesNotContain(topology.CServer.Output, l => l.Contains("198.51.100.9", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WhoAmI_Ipv4AndIpv6Clients_EachSeesItsOwnAddressAndPort()
    {
        var lab = topology.Require();

        var v4 = await WhoAmIAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, WhoAmIPort));
        var v6 = await WhoAmIAsync(lab.Hosts.Client6, new IPEndPoint(lab.Hosts.BalancerFor6, WhoAmIPort));

        Assert.Equal((v4.Client.Address.ToString(), v4.Client.Port), (v4.Answer.Address, v4.Answer.Port));
        Assert.Equal((v6.Client.Address.ToString(), v6.Client.Port), (v6.Answer.Address, v6.Answer.Port));
        Assert.All([v4.Answer, v6.Answer], a => Assert.Equal("ReceiverRecord", a.LearnedBy));
        Assert.All([v4.Answer, v6.Answer], a => Assert.StartsWith($"{lab.Hosts.BalancerToServer}:", a.SnatPeer));
    }

    /// <summary>
    /// Sends a line through the balancer from <paramref name="host"/> and reads the echo. Returns
    /// the client's own address, the packets the balancer sent the server meanwhile, and what the
    /// C server printed for that connection.
    /// </summary>
    private async Task<(IPEndPoint Client, IReadOnlyList<string> Packets, IReadOnlyList<string> Server)> ExchangeAsync(Host host, IPEndPoint target)
    {
        var lab = topology.Lab;
        var capture = await lab.Hosts.Server.CaptureAsync(lab.Hosts.ServerInterface, $"tcp dst port {CServerPort} and src host {lab.Hosts.BalancerToServer}");
        await using var _ = capture;
        IPEndPoint client;
        using (var socket = await BalancerLab.ConnectAsync(host, target))
        {
            client = (IPEndPoint)socket.LocalEndPoint!;
            await socket.SendAsync("hello\n"u8.ToArray());
            socket.Shutdown(SocketShutdown.Send);
            var echoed = new byte[64];
            var length = 0;
            int n;
            while ((n = await socket.ReceiveAsync(echoed.AsMemory(length))) > 0)
                length += n;
            Assert.Equal("hello\n", Encoding.ASCII.GetString(echoed, 0, length));
        }
        await capture.StopAsync(HasDataSegment);
        var packets = capture.ReadTcpdump();
        // Health checks send no data: the relayed connection is the one whose segment carries the line.
        var relayed = packets.Select(p => DataSegment().Match(p)).FirstOrDefault(m => m.Success)
            ?? throw new Xunit.Sdk.XunitException($"no data segment to the server among:\n{string.Join('\n', packets)}");
        var server = await ServerConnectionAsync(
            $"[{client.Address}]:{client.Port}", $"[{relayed.Groups[1].Value}]:{relayed.Groups[2].Value}");
        return (client, packets, server);
    }

    /// <summary>The C server's lines for the connection one of whose lines ends with one of <paramref name="peers"/>, once it closed.</summary>
    private async Task<IReadOnlyList<string>> ServerConnectionAsync(params string[] peers)
    {
        var server = topology.CServer;
        string[]? Find() => Connections(server.Output).LastOrDefault(c => c.Any(l => peers.Any(p => l.EndsWith(p, StringComparison.Ordinal))));
        await server.WaitForLineAsync(_ => Find() is not null, TimeSpan.FromSeconds(30));
        return Find()!;
    }

    /// <summary>The C server's output split per connection: "accepted ..." up to "closed".</summary>
    private static List<string[]> Connections(IReadOnlyList<string> lines)
    {
        var connections = new List<string[]>();
        var current = new List<string>();
        foreach (var line in lines)
        {
            if (line.StartsWith("accepted", StringComparison.Ordinal))
                current = [];
            current.Add(line);
            if (line == "closed")
                connections.Add([.. current]);
        }
        return connections;
    }

    /// <summary>Whether the relayed line reached the server (health checks, which also connect, send none).</summary>
    private static bool HasDataSegment(IReadOnlyList<string> packets) => packets.Any(p => DataSegment().IsMatch(p));

    // The line and the client's FIN may leave in one segment ([FP.]) when the relay forwards both at once.
    [GeneratedRegex(@"(\d+\.\d+\.\d+\.\d+)\.(\d+) > \S+: Flags \[F?P\.\]")]
    private static partial Regex DataSegment();

    private static void AssertCarried(IReadOnlyList<string> packets, string toa)
    {
        Assert.Contains(packets, p => p.Contains("Flags [.]", StringComparison.Ordinal) && p.Contains("length 0", StringComparison.Ordinal)
            && p.Contains(toa, StringComparison.Ordinal));
        Assert.Contains(packets, p => DataSegment().IsMatch(p) && p.Contains(toa, StringComparison.Ordinal));
    }

    /// <summary>How tcpdump -v prints a TOA of <paramref name="kind"/>: port then address, in hex.</summary>
    private static string ToaText(int kind, IPEndPoint client) =>
        $"unknown-{kind} 0x{client.Port:x4}{Convert.ToHexStringLower(client.Address.GetAddressBytes())}";

    private static async Task<(IPEndPoint Client, WhoAmIAnswer Answer)> WhoAmIAsync(Host host, IPEndPoint target)
    {
        IPEndPoint? client = null;
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var socket = await BalancerLab.ConnectAsync(host, target);
                client = (IPEndPoint)socket.LocalEndPoint!;
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        var answer = await http.GetFromJsonAsync<WhoAmIAnswer>($"http://whoami.test:{target.Port}/whoami");
        return (client!, answer!);
    }

    private sealed record WhoAmIAnswer(string Address, int Port, string LearnedBy, string? SnatPeer);

    /// <summary>The hosts, the receiver, the C server, WhoAmI and <c>toa lb</c>, shared by the tests of this class.</summary>
    public sealed class Topology : BalancerFixture
    {
        public LabProcess CServer { get; private set; } = null!;

        protected override async Task StartAsync(BalancerLab lab)
        {
            CServer = await lab.StartCServerAsync(CServerPort);
            await lab.StartWhoAmIAsync(WhoAmIPort);
            var server = lab.Hosts.ServerAddress;
            await lab.StartBalancerAsync($$"""
                {
                  "shutdownTimeout": "2s",
                  "listeners": [
                    { "name": "toa4", "address": "{{lab.Hosts.BalancerFor4}}:{{ToaPort}}", "toa": "tencent", "backends": [ { "address": "{{server}}:{{CServerPort}}" } ] },
                    { "name": "toa6", "address": "[{{lab.Hosts.BalancerFor6}}]:{{ToaPort}}", "toa": "tencent", "backends": [ { "address": "{{server}}:{{CServerPort}}" } ] },
                    { "name": "plain", "address": "{{lab.Hosts.BalancerFor4}}:{{PlainPort}}", "toa": "off", "backends": [ { "address": "{{server}}:{{CServerPort}}" } ] },
                    { "name": "web4", "address": "{{lab.Hosts.BalancerFor4}}:{{WhoAmIPort}}", "toa": "tencent", "backends": [ { "address": "{{server}}:{{WhoAmIPort}}" } ] },
                    { "name": "web6", "address": "[{{lab.Hosts.BalancerFor6}}]:{{WhoAmIPort}}", "toa": "tencent", "backends": [ { "address": "{{server}}:{{WhoAmIPort}}" } ] },
                  ],
                }
                """, listeners: 5);
        }
    }
}
