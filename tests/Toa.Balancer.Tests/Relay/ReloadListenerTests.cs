// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Balancer.Configuration;
using Toa.Wire;

namespace Toa.Balancer.Tests.Relay;

/// <summary>
/// Reloads that change listeners keep every configured address accepting: a socket is kept by
/// its address, whichever listener it belongs to after the reload. Clients connect while the
/// reload is applied and after it; none may be refused.
/// </summary>
public class ReloadListenerTests
{
    /// <summary>A loopback address with a port nothing listens on now; a fixed port, unlike ":0", names one socket across reloads.</summary>
    private static string FreeAddress()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket.LocalEndPoint!.ToString()!;
    }

    /// <summary>One line through the balancer to an echo backend; false when the connection failed.</summary>
    private static async Task<bool> EchoOnceAsync(IPEndPoint balancer)
    {
        try
        {
            using var client = await TestClient.ConnectAsync(balancer);
            await client.SendAsync("?"u8.ToArray());
            return (await TestClient.ReadExactlyAsync(client, 1))[0] == (byte)'?';
        }
        catch (Exception e) when (e is SocketException or EndOfStreamException)
        {
            return false;
        }
    }

    /// <summary>
    /// Applies <paramref name="reloaded"/> while sequential clients hit every address in
    /// <paramref name="addresses"/>, then <paramref name="after"/> more clients per address; returns the failures.
    /// </summary>
    private static async Task<int> FailuresAcrossReloadAsync(BalancerHost host, BalancerConfig reloaded, string[] addresses, int after = 50)
    {
        var endPoints = addresses.Select(IPEndPoint.Parse).ToArray();
        var failures = 0;
        using var stop = new CancellationTokenSource();
        var during = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var endPoint in endPoints)
                {
                    if (!await EchoOnceAsync(endPoint))
                        Interlocked.Increment(ref failures);
                }
            }
        });
        await host.ApplyAsync(reloaded);
        await stop.CancelAsync();
        await during;
        for (var i = 0; i < after; i++)
        {
            foreach (var endPoint in endPoints)
            {
                if (!await EchoOnceAsync(endPoint))
                    failures++;
            }
        }
        return failures;
    }

    [Fact]
    public async Task Reload_ListenerRenamedSameAddress_NoClientRefusedAndTheNewNameServes()
    {
        await using var server = TestServer.Echo();
        var address = FreeAddress();
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server) with { Address = address }));
        await using var _h = host.StopOnDispose();

        var failures = await FailuresAcrossReloadAsync(host, TestHosts.Config(TestHosts.Listener("www", server) with { Address = address }), [address]);

        Assert.Equal(0, failures);
        Assert.Equal(address, host.GetListenerEndPoint("www").ToString());
        Assert.Equal("www", Assert.Single(host.GetStatus().Listeners).Name);
    }

    [Fact]
    public async Task Reload_ListenersSwapAddresses_NoClientRefusedAndEachAddressReachesItsNewPool()
    {
        await using var a = TestServer.Echo();
        await using var b = TestServer.Echo();
        var (first, second) = (FreeAddress(), FreeAddress());
        var (host, _) = TestHosts.Start(TestHosts.Config(
            TestHosts.Listener("a", a) with { Address = first }, TestHosts.Listener("b", b) with { Address = second }));
        await using var _h = host.StopOnDispose();

        var failures = await FailuresAcrossReloadAsync(host, TestHosts.Config(
            TestHosts.Listener("a", a) with { Address = second }, TestHosts.Listener("b", b) with { Address = first }), [first, second]);

        Assert.Equal(0, failures);
        Assert.Equal((second, first), (host.GetListenerEndPoint("a").ToString(), host.GetListenerEndPoint("b").ToString()));
        var served = a.Served;
        Assert.True(await EchoOnceAsync(IPEndPoint.Parse(second)));
        Assert.Equal(served + 1, a.Served);
    }

    [Fact]
    public async Task Reload_ListenerAdded_TheOldKeepsServingAndTheNewAccepts()
    {
        await using var server = TestServer.Echo();
        var (old, added) = (FreeAddress(), FreeAddress());
        var web = TestHosts.Listener("web", server) with { Address = old };
        var (host, _) = TestHosts.Start(TestHosts.Config(web));
        await using var _h = host.StopOnDispose();

        var failures = await FailuresAcrossReloadAsync(host, TestHosts.Config(web, TestHosts.Listener("api", server) with { Address = added }), [old]);

        Assert.Equal(0, failures);
        Assert.True(await EchoOnceAsync(IPEndPoint.Parse(added)));
    }

    [Fact]
    public async Task Reload_ListenerRemoved_ItsPortRefusesAndTheOtherKeepsServing()
    {
        await using var server = TestServer.Echo();
        var (kept, removed) = (FreeAddress(), FreeAddress());
        var web = TestHosts.Listener("web", server) with { Address = kept };
        var (host, _) = TestHosts.Start(TestHosts.Config(web, TestHosts.Listener("api", server) with { Address = removed }));
        await using var _h = host.StopOnDispose();

        var failures = await FailuresAcrossReloadAsync(host, TestHosts.Config(web), [kept]);

        Assert.Equal(0, failures);
        await Assert.ThrowsAsync<SocketException>(() => TestClient.ConnectAsync(IPEndPoint.Parse(removed)));
    }

    [Fact]
    public async Task Reload_ToaModeChangedAndRenamed_NoClientRefusedAndTheNewModeIsWritten()
    {
        await using var server = TestServer.Echo();
        var address = FreeAddress();
        var toa = new RecordingToaWriter();
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server) with { Address = address }), toa: toa);
        await using var _h = host.StopOnDispose();

        var failures = await FailuresAcrossReloadAsync(host,
            TestHosts.Config(TestHosts.Listener("toa", server) with { Address = address, Toa = "dpvs" }), [address], after: 5);

        Assert.Equal(0, failures);
        Assert.True(toa.Attached.Count >= 5);
        Assert.All(toa.Attached, a => Assert.Equal(("toa", ToaFormat.Dpvs), (a.Listener, a.Toa.Format)));
    }

    [Fact]
    public async Task Reload_ToaTurnedOnWithoutAnyToaListenerBefore_WriterPreparedBeforeItsFirstConnection()
    {
        await using var server = TestServer.Echo();
        var toa = new RecordingToaWriter();
        var web = TestHosts.Listener("web", server);
        var (host, _) = TestHosts.Start(TestHosts.Config(web), toa: toa);
        await using var _h = host.StopOnDispose();
        var before = toa.Prepared.Calls;

        await host.ApplyAsync(TestHosts.Config(web with { Toa = "tencent" }));
        var address = host.EndPoint();
        Assert.True(await EchoOnceAsync(address));

        Assert.Equal(0, before);
        Assert.Equal((1, 0), toa.Prepared);
        Assert.Equal(ConfigDefaults.ToaConnections, toa.Connections);
        Assert.Equal("web", Assert.Single(toa.Attached).Listener);
    }

    [Fact]
    public async Task Reload_ToaTurnedOnWithToaConnections_WriterPreparedForThatMany()
    {
        await using var server = TestServer.Echo();
        var toa = new RecordingToaWriter();
        var web = TestHosts.Listener("web", server);
        var (host, _) = TestHosts.Start(TestHosts.Config(web), toa: toa);
        await using var _h = host.StopOnDispose();

        await host.ApplyAsync(TestHosts.Config(web with { Toa = "tencent" }) with { ToaConnections = 1000 });

        Assert.Equal(1000, toa.Connections);
    }

    [Fact]
    public async Task Reload_ToaTurnedOnButTheWriterCannotStart_RefusedAndTheRunningConfigurationStays()
    {
        await using var server = TestServer.Echo();
        var toa = new RecordingToaWriter(cannotStart: new InvalidOperationException("loading the sender needs root"));
        var config = TestHosts.Config(TestHosts.Listener("web", server));
        var (host, _) = TestHosts.Start(config, toa: toa);
        await using var _h = host.StopOnDispose();

        await host.ApplyAsync(TestHosts.Config(TestHosts.Listener("web", server) with { Toa = "tencent" }, TestHosts.Listener("api", server) with { Address = "127.0.0.2:0" }));

        Assert.Same(config, host.Config);
        Assert.Equal("off", Assert.Single(host.GetStatus().Listeners).Toa);
        Assert.True(await EchoOnceAsync(host.EndPoint()));
        Assert.Empty(toa.Attached);
    }

    [Fact]
    public async Task Start_ToaListenerButTheWriterCannotStart_ThrowsTheCause()
    {
        await using var server = TestServer.Echo();
        var toa = new RecordingToaWriter(cannotStart: new InvalidOperationException("loading the sender needs root"));

        var e = Assert.Throws<InvalidOperationException>(() => TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server) with { Toa = "dpvs" }), toa: toa));

        Assert.Equal("loading the sender needs root", e.Message);
    }
}
