// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// Packet listeners carrying data across namespaces at the links' MTU (1500): transfers each way
/// compared by SHA-256, no fragment on either side of the balancer; a drain and a reload during a
/// transfer; a backend that dies while health checks watch it. Status is read with <c>toa lb status</c>.
/// </summary>
public sealed class PacketTransferTests(PacketTransferTests.Topology topology) : IClassFixture<PacketTransferTests.Topology>
{
    private const int BulkPort = 90;
    private const int DrainPort = 91;
    private const int ReloadPort = 92;
    private const int PairPort = 93;
    private const int BulkEcho = 8200;
    private const int DrainEcho = 8201;
    private const int ReloadEcho = 8202;
    private const int ReloadAddedEcho = 8203;
    private const int PairFirst = 8301;
    private const int PairSecond = 8302;

    [Theory]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)] // NAT64: 20 bytes more per packet toward the client
    public async Task FourMiBEachWay_AtMtu1500_ArrivesIntactAndUnfragmented(AddressFamily family)
    {
        var lab = topology.Require();
        var (client, vip) = family == AddressFamily.InterNetwork
            ? (lab.Hosts.ToClient4, lab.Hosts.BalancerFor4)
            : (lab.Hosts.ToClient6, lab.Hosts.BalancerFor6);
        // The relayed connection only: health checks come from the balancer's own stack and ports.
        var serverSide = await lab.Hosts.Server.CaptureAsync(lab.Hosts.ServerInterface, $"tcp port {BulkEcho} and portrange {PacketFixture.FirstEnginePort}-65535");
        var clientSide = await client.A.Host.CaptureAsync(client.A.Name, $"tcp port {BulkPort}");
        await using var _ = serverSide;
        await using var __ = clientSide;

        using (var socket = await BalancerLab.ConnectAsync(client.A.Host, new IPEndPoint(vip, BulkPort)))
            await PacketLab.TransferIntactAsync(socket, PacketLab.Data(4 << 20, seed: 4), () => Task.CompletedTask);
        await Task.WhenAll(serverSide.StopAsync(PacketCapture.Ended(BulkEcho)), clientSide.StopAsync(PacketCapture.Ended(BulkPort)));

        foreach (var capture in new[] { serverSide, clientSide })
        {
            Assert.NotEmpty(capture.ReadFields("tcp.len > 1000", "frame.number"));
            // An Ethernet frame holds 1500 bytes of IP: more would be a segment the MTU cannot carry.
            Assert.Empty(capture.ReadFields("frame.len > 1514 || ip.flags.mf == 1 || ip.frag_offset > 0 || ipv6.fraghdr", "frame.number", "frame.len"));
        }
        var bad = serverSide.ReadTcpdump("-vv").Where(PacketLab.BadChecksum).ToList();
        Assert.True(bad.Count == 0, $"{bad.Count} packets with a wrong checksum on the server's side, the first:\n{string.Join('\n', bad.Take(5))}");
    }

    [Fact]
    public async Task Drain_DuringATransfer_TheTransferCompletesIntact()
    {
        var lab = topology.Require();
        var backend = $"{lab.Hosts.ServerAddress}:{DrainEcho}";
        using var socket = await BalancerLab.ConnectAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, DrainPort));

        await PacketLab.TransferIntactAsync(socket, PacketLab.Data(8 << 20, seed: 5), async () =>
        {
            var drain = await PacketLab.CommandAsync(lab, "drain", $"drain/{backend}");
            Assert.True(drain.ExitCode == 0, drain.StandardError);
            await PacketLab.WaitForBackendsAsync(lab, "drain", b => b[backend].Status == "draining");
        });

        var enable = await PacketLab.CommandAsync(lab, "enable", $"drain/{backend}");
        Assert.True(enable.ExitCode == 0, enable.StandardError);
    }

    [Theory]
    [InlineData("SIGHUP")]
    [InlineData("toa lb reload")]
    public async Task Reload_DuringATransfer_TheTransferArrivesIntact(string how)
    {
        var lab = topology.Require();
        using var socket = await BalancerLab.ConnectAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, ReloadPort));
        var balancer = topology.Balancer;

        await PacketLab.TransferIntactAsync(socket, PacketLab.Data(8 << 20, seed: 6), async () =>
        {
            // Another backend: a new Maglev table, which must steer new connections only.
            var reloads = balancer.Error.Count(IsReload);
            topology.ReloadBackends = topology.ReloadBackends.Length == 1 ? [ReloadEcho, ReloadAddedEcho] : [ReloadEcho];
            await lab.WriteConfigAsync(topology.Config(lab));
            if (how == "SIGHUP")
                Shell.Run("kill", "-HUP", $"{balancer.Id}");
            else
            {
                var reload = await PacketLab.CommandAsync(lab, "reload");
                Assert.True(reload.ExitCode == 0, reload.StandardError + reload.StandardOutput);
            }
            await balancer.WaitForLineAsync(_ => balancer.Error.Count(IsReload) > reloads, TimeSpan.FromSeconds(30));
        });

        var backends = await PacketLab.BackendsAsync(lab, "reload");
        Assert.Equal(topology.ReloadBackends.Length, backends.Count);
    }

    [Fact]
    public async Task BackendKilled_HealthChecksMarkItDown_ItGetsNoNewConnections()
    {
        var lab = topology.Require();
        var first = $"{lab.Hosts.ServerAddress}:{PairFirst}";
        var second = $"{lab.Hosts.ServerAddress}:{PairSecond}";
        await PacketLab.WaitForBackendsAsync(lab, "pair", b => b.Values.All(v => v.Status == "healthy"));

        topology.SecondPairBackend.Dispose();
        var down = await PacketLab.WaitForBackendsAsync(lab, "pair", b => b[second].Status == "unhealthy");
        // Each connection would be refused by the dead backend's host: every one echoing is the proof.
        for (var i = 0; i < 8; i++)
            await BalancerLab.EchoLineAsync(lab.Hosts.Client4, new IPEndPoint(lab.Hosts.BalancerFor4, PairPort));
        var after = await PacketLab.WaitForBackendsAsync(lab, "pair", b => b[first].Total >= down[first].Total + 8);
        topology.SecondPairBackend = lab.Hosts.Server.StartEchoServer(lab.Hosts.ServerAddress, PairSecond);
        await PacketLab.WaitForBackendsAsync(lab, "pair", b => b[second].Status == "healthy");

        Assert.Equal(down[second].Total, after[second].Total);
        Assert.Equal(down[first].Total + 8, after[first].Total);
    }

    private static bool IsReload(string line) => line.Contains("Reloaded ", StringComparison.Ordinal);

    /// <summary>The hosts, echo servers behind every listener and <c>toa lb</c> with packet listeners (TOA on).</summary>
    public sealed class Topology : PacketFixture
    {
        private readonly List<EchoServer> _echoes = [];

        public LabProcess Balancer { get; private set; } = null!;

        public EchoServer SecondPairBackend { get; set; } = null!;

        /// <summary>The reload listener's backends (ports), changed by each reload.</summary>
        public int[] ReloadBackends { get; set; } = [ReloadEcho];

        public string Config(BalancerLab lab)
        {
            IPEndPoint Server(int port) => new(lab.Hosts.ServerAddress, port);
            const string often = """ "health": { "interval": "300ms", "timeout": "200ms", "rise": 2, "fall": 2 } """;
            return Config(
                Listener("bulk4", new(lab.Hosts.BalancerFor4, BulkPort), "tencent", [Server(BulkEcho)]),
                Listener("bulk6", new(lab.Hosts.BalancerFor6, BulkPort), "tencent", [Server(BulkEcho)]),
                Listener("drain", new(lab.Hosts.BalancerFor4, DrainPort), "tencent", [Server(DrainEcho)]),
                Listener("reload", new(lab.Hosts.BalancerFor4, ReloadPort), "tencent", ReloadBackends.Select(Server)),
                Listener("pair", new(lab.Hosts.BalancerFor4, PairPort), "tencent", [Server(PairFirst), Server(PairSecond)], often));
        }

        protected override async Task StartPacketAsync(BalancerLab lab)
        {
            foreach (var port in new[] { BulkEcho, DrainEcho, ReloadEcho, ReloadAddedEcho, PairFirst })
                _echoes.Add(lab.Hosts.Server.StartEchoServer(lab.Hosts.ServerAddress, port));
            SecondPairBackend = lab.Hosts.Server.StartEchoServer(lab.Hosts.ServerAddress, PairSecond);
            Balancer = await StartBalancerAsync(lab, Config(lab), listeners: 5);
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            _echoes.ForEach(e => e.Dispose());
            SecondPairBackend?.Dispose();
        }
    }
}
