// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// <c>"proxyProtocol": "v2"</c> across namespaces: HAProxy 2.6 with <c>accept-proxy</c> on the server, a
/// parser we did not write, logs the client it read from the header; and the WhoAmI sample with
/// <c>UseToa</c> expecting the header shows it to requests.
/// </summary>
public sealed class BalancerProxyProtocolTests(BalancerProxyProtocolTests.Topology topology) : IClassFixture<BalancerProxyProtocolTests.Topology>
{
    private const int HaProxyPort = 9000;
    private const int WhoAmIPort = 8080;
    private const int ProxyPort = 90;
    private const int ProxyAndToaPort = 91;

    [Fact]
    public async Task ProxyV2_Ipv4Client_HaProxyAcceptProxyLogsTheClient()
    {
        var lab = topology.Require();
        _ = Toa.Testing.HaProxy.Binary;

        var (client, answer) = await GetAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, ProxyPort));

        Assert.Contains($"{client.Address}:{client.Port}\n", answer, StringComparison.Ordinal);
        await topology.HaProxy.WaitForLineAsync(l => l == $"client {client.Address}:{client.Port}", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ProxyV2_Ipv6ClientToIpv4Server_HaProxyLogsTheIpv6Client()
    {
        var lab = topology.Require();
        _ = Toa.Testing.HaProxy.Binary;

        var (client, answer) = await GetAsync(lab.Hosts.Client6, new IPEndPoint(lab.Hosts.BalancerFor6, ProxyPort));

        Assert.Contains($"{client.Address}:{client.Port}\n", answer, StringComparison.Ordinal);
        await topology.HaProxy.WaitForLineAsync(l => l == $"client {client.Address}:{client.Port}", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ProxyV2WithToa_HaProxyLogsTheClientAndTheOptionIsOnTheWire()
    {
        var lab = topology.Require();
        _ = Toa.Testing.HaProxy.Binary;
        var capture = await lab.Hosts.Server.CaptureAsync(lab.Hosts.ServerInterface, $"tcp dst port {HaProxyPort} and src host {lab.Hosts.BalancerToServer}");
        await using var captured = capture;

        var (client, answer) = await GetAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, ProxyAndToaPort));
        var toa = $"unknown-200 0x{client.Port:x4}{Convert.ToHexStringLower(client.Address.GetAddressBytes())}";
        await capture.StopAsync(packets => packets.Any(p => p.Contains(toa, StringComparison.Ordinal)));

        Assert.Contains($"{client.Address}:{client.Port}\n", answer, StringComparison.Ordinal);
        await topology.HaProxy.WaitForLineAsync(l => l == $"client {client.Address}:{client.Port}", TimeSpan.FromSeconds(30));
        Assert.Contains(capture.ReadTcpdump(), p => p.Contains(toa, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ProxyV2_ToWhoAmIWithProxyProtocol_RequestsSeeTheClientFromTheHeader()
    {
        var lab = topology.Require();
        _ = Toa.Testing.HaProxy.Binary;
        var target = new IPEndPoint(lab.Hosts.BalancerFor4, WhoAmIPort);
        IPEndPoint? client = null;
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, _) =>
            {
                var socket = await BalancerLab.ConnectAsync(lab.Hosts.Client4, target);
                client = (IPEndPoint)socket.LocalEndPoint!;
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };

        var answer = await http.GetFromJsonAsync<WhoAmIAnswer>($"http://whoami.test:{WhoAmIPort}/whoami");

        Assert.Equal((client!.Address.ToString(), client.Port, "ProxyHeader"), (answer!.Address, answer.Port, answer.LearnedBy));
        Assert.StartsWith($"{lab.Hosts.BalancerToServer}:", answer.SnatPeer);
    }

    /// <summary>An HTTP/1.0 GET from <paramref name="host"/> through the balancer; the client's address and the whole answer.</summary>
    private static async Task<(IPEndPoint Client, string Answer)> GetAsync(Host host, IPEndPoint target)
    {
        using var socket = await BalancerLab.ConnectAsync(host, target);
        var client = (IPEndPoint)socket.LocalEndPoint!;
        await socket.SendAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray());
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(30))) > 0)
            answer.Write(buffer, 0, n);
        return (client, Encoding.ASCII.GetString(answer.ToArray()));
    }

    private sealed record WhoAmIAnswer(string Address, int Port, string LearnedBy, string? SnatPeer);

    /// <summary>HAProxy and WhoAmI on the server (in the receiver's cgroup) and <c>toa lb</c>, shared by the tests of this class.</summary>
    public sealed class Topology : BalancerFixture
    {
        private HaProxy? _config;

        public LabProcess HaProxy { get; private set; } = null!;

        protected override async Task StartAsync(BalancerLab lab)
        {
            if (!Toa.Testing.HaProxy.IsInstalled)
                return; // each test says so
            var server = lab.Hosts.ServerAddress;
            // accept-proxy takes the client from the header: %ci:%cp is what HAProxy read there.
            _config = Toa.Testing.HaProxy.Configure($"""
                frontend accept
                    mode http
                    bind {server}:{HaProxyPort} accept-proxy
                    log-format "client %ci:%cp"
                    http-request return status 200 content-type text/plain lf-string "%ci:%cp\n"
                """);
            HaProxy = lab.Hosts.Server.Start(Toa.Testing.HaProxy.Binary, _config.Arguments, lab.Cgroup.Path);
            await lab.StartWhoAmIAsync(WhoAmIPort, "--Toa:ProxyProtocol=true");
            await lab.StartBalancerAsync($$"""
                {
                  "shutdownTimeout": "2s",
                  "listeners": [
                    { "name": "pp4", "address": "{{lab.Hosts.BalancerFor4}}:{{ProxyPort}}", "proxyProtocol": "v2", "backends": [ { "address": "{{server}}:{{HaProxyPort}}" } ] },
                    { "name": "pp6", "address": "[{{lab.Hosts.BalancerFor6}}]:{{ProxyPort}}", "proxyProtocol": "v2", "backends": [ { "address": "{{server}}:{{HaProxyPort}}" } ] },
                    { "name": "pptoa", "address": "{{lab.Hosts.BalancerFor4}}:{{ProxyAndToaPort}}", "proxyProtocol": "v2", "toa": "tencent", "backends": [ { "address": "{{server}}:{{HaProxyPort}}" } ] },
                    { "name": "ppweb", "address": "{{lab.Hosts.BalancerFor4}}:{{WhoAmIPort}}", "proxyProtocol": "v2", "backends": [ { "address": "{{server}}:{{WhoAmIPort}}" } ] },
                  ],
                }
                """, listeners: 4);
            await WaitListeningAsync(lab.Hosts.Server, new IPEndPoint(server, HaProxyPort));
        }

        private static async Task WaitListeningAsync(Host host, IPEndPoint endPoint)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                using var probe = host.Enter(() => new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
                try
                {
                    await probe.ConnectAsync(endPoint);
                    return;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(100);
                }
            }
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            _config?.Dispose();
        }
    }
}
