// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Toa.Balancer.Configuration;
using Toa.Balancer.Management;
using Toa.Balancer.Relay;

namespace Toa.Balancer.Tests.Relay;

/// <summary>Limits that keep the balancer serving: the default connection limit, per source, the first-byte timeout, a flood.</summary>
public class LimitTests
{
    private static async Task<Socket> EchoThroughAsync(IPEndPoint balancer, IPAddress? from = null)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (from is not null)
                client.Bind(new IPEndPoint(from, 0));
            await client.ConnectAsync(balancer).WaitAsync(Eventually.Limit);
            await client.SendAsync("?"u8.ToArray());
            await TestClient.ReadExactlyAsync(client, 1);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>How a client the balancer refuses ends: a reset, whether at connect or at the first read.</summary>
    private static async Task<SocketError> RefusedEndAsync(IPEndPoint balancer, IPAddress? from = null)
    {
        try
        {
            using var client = await EchoThroughAsync(balancer, from);
            return SocketError.Success;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode;
        }
        catch (EndOfStreamException)
        {
            return SocketError.Disconnecting;
        }
    }

    private static async Task<string> Metrics(BalancerHost host)
    {
        using var stream = new MemoryStream();
        await host.WriteMetricsAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    [Theory]
    [InlineData(1024, 0, 448)]          // 1024 - 128 spare, halved
    [InlineData(1024, 100, 398)]        // what the process holds at start is not the connections'
    [InlineData(65536, 100, 28622)]
    [InlineData(1048576, 100, 458702)]
    [InlineData(256, 100, 46)]          // at least 64 spare
    [InlineData(150, 100, 1)]           // never 0, which would mean no limit
    [InlineData(long.MaxValue, 100, int.MaxValue)]
    public void DefaultMaxConnections_DescriptorLimit_TwoPerConnectionAfterWhatIsInUseAndASpareShare(long descriptors, long inUse, int expected) =>
        Assert.Equal(expected, ConnectionLimits.DefaultMaxConnections(descriptors, inUse));

    [Fact]
    public async Task MaxConnections_LeftOut_DerivedFromThisProcessDescriptorLimit()
    {
        await using var server = TestServer.Echo();
        var (host, provider) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server)));
        await using var _h = host.StopOnDispose();

        var limit = host.GetStatus().MaxConnections;

        // Between what all the descriptors would allow and what those left allow: tests running beside
        // this one open and close sockets, so the count at the host's start is known only roughly.
        Assert.InRange(limit,
            ConnectionLimits.DefaultMaxConnections(ConnectionLimits.DescriptorLimit(), ConnectionLimits.DescriptorsInUse() + 2000),
            ConnectionLimits.DefaultMaxConnections(ConnectionLimits.DescriptorLimit(), 0));
        await host.ApplyAsync(host.Config with { MaxConnections = 0 });
        Assert.Equal(0, host.GetStatus().MaxConnections);
    }

    [Fact]
    public async Task Flood_BeyondMaxConnections_RefusedCleanlyWhileEstablishedFlowAndTheAdminAnswers()
    {
        await using var server = TestServer.Echo();
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var admin = probe.LocalEndPoint!.ToString()!;
        probe.Dispose();
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server)) with { Admin = admin, MaxConnections = 10 });
        await using var _h = host.StopOnDispose();
        var established = new List<Socket>();
        try
        {
            for (var i = 0; i < 10; i++)
                established.Add(await EchoThroughAsync(host.EndPoint()));

            var flood = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => RefusedEndAsync(host.EndPoint())));

            Assert.All(flood, end => Assert.Equal(SocketError.ConnectionReset, end));
            foreach (var socket in established)
            {
                await socket.SendAsync("k"u8.ToArray());
                Assert.Equal("k"u8.ToArray(), await TestClient.ReadExactlyAsync(socket, 1));
            }
            using var client = new BalancerAdminClient(admin);
            var status = await client.GetStatusAsync();
            Assert.Equal((10, 10), (status.ActiveConnections, status.MaxConnections));
            Assert.Contains("toa_lb_connections_rejected_total{listener=\"web\",reason=\"limit\"} 200", await Metrics(host));
        }
        finally
        {
            foreach (var socket in established)
                socket.Dispose();
        }
    }

    [Fact]
    public async Task MaxConnectionsPerSource_Reached_ThatSourceRefusedOthersServed()
    {
        await using var server = TestServer.Echo();
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server)) with { MaxConnectionsPerSource = 2 });
        await using var _h = host.StopOnDispose();
        var busy = IPAddress.Parse("127.0.0.2");
        using var first = await EchoThroughAsync(host.EndPoint(), busy);
        using var second = await EchoThroughAsync(host.EndPoint(), busy);

        Assert.Equal(SocketError.ConnectionReset, await RefusedEndAsync(host.EndPoint(), busy));
        using (await EchoThroughAsync(host.EndPoint(), IPAddress.Parse("127.0.0.3")))
        {
        }
        first.Dispose();
        await Eventually.True(() => host.GetStatus().ActiveConnections == 1, "the first connection is gone");
        using var again = await EchoThroughAsync(host.EndPoint(), busy);

        Assert.Contains("toa_lb_connections_rejected_total{listener=\"web\",reason=\"source_limit\"} 1", await Metrics(host));
    }

    [Fact]
    public async Task FirstByteTimeout_SilentClientClosedWhileOneThatSpokeStays()
    {
        var time = new FakeTimeProvider();
        await using var server = TestServer.Echo();
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server) with { FirstByteTimeout = TimeSpan.FromSeconds(5) }), time);
        await using var _h = host.StopOnDispose();
        using var spoke = await EchoThroughAsync(host.EndPoint());
        using var silent = await TestClient.ConnectAsync(host.EndPoint());
        await Eventually.True(() => host.GetStatus().ActiveConnections == 2, "the balancer accepted both");
        var end = TestClient.ReadEndAsync(silent);

        // The timer starts a moment after the accept: step the clock until it fires.
        await Eventually.True(() =>
        {
            time.Advance(TimeSpan.FromSeconds(1));
            return end.IsCompleted;
        }, "the silent client's connection ended");

        Assert.Equal(SocketError.ConnectionReset, await end);
        await spoke.SendAsync("k"u8.ToArray());
        Assert.Equal("k"u8.ToArray(), await TestClient.ReadExactlyAsync(spoke, 1));
        Assert.Contains("toa_lb_connections_rejected_total{listener=\"web\",reason=\"first_byte_timeout\"} 1", await Metrics(host));
    }

    [Fact]
    public void WarningThrottle_ManyFailures_OneWarningPerIntervalWithTheCount()
    {
        var time = new FakeTimeProvider();
        var throttle = new WarningThrottle(time, TimeSpan.FromSeconds(10));

        Assert.Equal(1, throttle.Count());
        var warned = Enumerable.Range(0, 999).Select(_ => throttle.Count()).Where(c => c > 0).ToArray();
        time.Advance(TimeSpan.FromSeconds(10));
        var next = throttle.Count();

        Assert.Empty(warned);
        Assert.Equal(1000, next);
    }
}
