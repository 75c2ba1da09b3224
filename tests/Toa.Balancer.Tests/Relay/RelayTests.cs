// SPDX-License-Identifier: MIT
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Toa.Balancer.Configuration;

namespace Toa.Balancer.Tests.Relay;

/// <summary>Real sockets on loopback through a running host; run once with splice(2) and once copying.</summary>
public abstract class RelayTests
{
    /// <summary>Whether the host relays with splice(2).</summary>
    protected abstract bool Splice { get; }

    private (BalancerHost Host, InMemoryConfigProvider Provider) Start(BalancerConfig config, TimeProvider? time = null) =>
        TestHosts.Start(config, time, splice: Splice);

    [Fact]
    public async Task Relay_MultiMegabyteBothWays_BytesIntact()
    {
        var upload = TestClient.Payload(8 << 20, seed: 1);
        var download = TestClient.Payload(6 << 20, seed: 2);
        var received = new TaskCompletionSource<(string Hash, long Bytes)>();
        await using var server = new TestServer(async socket =>
        {
            received.SetResult(await TestClient.ReadToEndAsync(socket));
            await socket.SendAsync(download);
            socket.Shutdown(SocketShutdown.Send);
        });
        var (host, _) = Start(TestHosts.Config(TestHosts.Listener("web", server)));
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());

        var send = Task.Run(async () =>
        {
            await client.SendAsync(upload);
            client.Shutdown(SocketShutdown.Send);
        });
        var back = await TestClient.ReadToEndAsync(client);
        await send;

        Assert.Equal(TestClient.Digest(upload), await received.Task.WaitAsync(Eventually.Limit));
        Assert.Equal(TestClient.Digest(download), back);
    }

    [Fact]
    public async Task HalfClose_BackendFinishesFirst_ClientCanStillSend()
    {
        var fromClient = new TaskCompletionSource<byte[]>();
        await using var server = new TestServer(async socket =>
        {
            await socket.SendAsync("hello"u8.ToArray());
            socket.Shutdown(SocketShutdown.Send);
            fromClient.SetResult(await TestClient.ReadExactlyAsync(socket, 5));
        });
        var (host, _) = Start(TestHosts.Config(TestHosts.Listener("web", server)));
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());

        Assert.Equal("hello"u8.ToArray(), await TestClient.ReadExactlyAsync(client, 5));
        Assert.Equal(SocketError.Success, await TestClient.ReadEndAsync(client)); // the FIN came through
        await client.SendAsync("world"u8.ToArray());

        Assert.Equal("world"u8.ToArray(), await fromClient.Task.WaitAsync(Eventually.Limit));
    }

    [Fact]
    public async Task HalfClose_ClientFinishesFirst_BackendCanStillAnswer()
    {
        await using var server = TestServer.Echo();
        var (host, _) = Start(TestHosts.Config(TestHosts.Listener("web", server)));
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());

        await client.SendAsync("ping"u8.ToArray());
        client.Shutdown(SocketShutdown.Send);

        Assert.Equal("ping"u8.ToArray(), await TestClient.ReadExactlyAsync(client, 4));
        Assert.Equal(SocketError.Success, await TestClient.ReadEndAsync(client));
    }

    [Fact]
    public async Task Reset_ClientResets_BackendGetsReset()
    {
        var backendEnd = new TaskCompletionSource<SocketError>();
        var connected = new TaskCompletionSource();
        await using var server = new TestServer(async socket =>
        {
            connected.SetResult();
            backendEnd.SetResult(await TestClient.ReadEndAsync(socket));
        });
        var (host, _) = Start(TestHosts.Config(TestHosts.Listener("web", server)));
        await using var _h = host.StopOnDispose();
        var client = await TestClient.ConnectAsync(host.EndPoint());
        await connected.Task.WaitAsync(Eventually.Limit);

        client.LingerState = new LingerOption(true, 0);
        client.Dispose();

        Assert.Equal(SocketError.ConnectionReset, await backendEnd.Task.WaitAsync(Eventually.Limit));
    }

    [Fact]
    public async Task Reset_BackendResets_ClientGetsReset()
    {
        await using var server = new TestServer(async socket =>
        {
            await TestClient.ReadExactlyAsync(socket, 1);
            socket.LingerState = new LingerOption(true, 0);
        });
        var (host, _) = Start(TestHosts.Config(TestHosts.Listener("web", server)));
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());

        await client.SendAsync(new byte[1]);

        Assert.Equal(SocketError.ConnectionReset, await TestClient.ReadEndAsync(client));
    }

    [Fact]
    public async Task Reload_DuringLongTransfer_TransferIntactAndNewClientsFollowTheNewPool()
    {
        var upload = TestClient.Payload(16 << 20, seed: 3);
        var halfway = new TaskCompletionSource();
        var resume = new TaskCompletionSource();
        var received = new TaskCompletionSource<(string, long)>();
        await using var first = new TestServer(async socket =>
        {
            // Take half, stop until the test has reloaded, then take the rest.
            var head = await TestClient.ReadExactlyAsync(socket, upload.Length / 2);
            halfway.SetResult();
            await resume.Task;
            var rest = await TestClient.ReadExactlyAsync(socket, upload.Length - head.Length);
            received.SetResult(TestClient.Digest([.. head, .. rest]));
            Assert.Equal(0, await socket.ReceiveAsync(new byte[1].AsMemory()));
        });
        await using var second = TestServer.Echo();
        var config = TestHosts.Config(TestHosts.Listener("web", first));
        var (host, provider) = Start(config);
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());
        var send = Task.Run(async () =>
        {
            await client.SendAsync(upload);
            client.Shutdown(SocketShutdown.Send);
        });
        await halfway.Task.WaitAsync(Eventually.Limit);

        // The backend in use leaves the pool, another comes, and the scheduler and limits change.
        var reloaded = config with
        {
            MaxConnections = 100,
            Listeners = [TestHosts.Listener("web", second) with { Scheduler = "maglev", IdleTimeout = TimeSpan.FromMinutes(1) }],
        };
        provider.Update(reloaded);
        await Eventually.True(() => host.Config.Equals(reloaded), "the new configuration is running");
        resume.SetResult();
        await send.WaitAsync(Eventually.Limit);

        Assert.Equal(TestClient.Digest(upload), await received.Task.WaitAsync(Eventually.Limit));
        using var next = await TestClient.ConnectAsync(host.EndPoint());
        await next.SendAsync("x"u8.ToArray());
        Assert.Equal("x"u8.ToArray(), await TestClient.ReadExactlyAsync(next, 1));
        Assert.Equal(1, first.Accepted);
        Assert.Equal(1, second.Accepted);
    }

    [Fact]
    public async Task Reload_ListenerRemoved_StopsAcceptingButKeepsItsConnections()
    {
        await using var server = TestServer.Echo();
        var config = TestHosts.Config(TestHosts.Listener("web", server), TestHosts.Listener("other", server) with { Address = "[::1]:0" });
        var (host, provider) = Start(config);
        await using var _h = host.StopOnDispose();
        var endPoint = host.EndPoint();
        using var client = await TestClient.ConnectAsync(endPoint);

        provider.Update(config with { Listeners = [config.Listeners![1]] });
        await Eventually.True(() => host.GetStatus().Listeners.Count == 1, "the listener is gone");

        await client.SendAsync("still"u8.ToArray());
        Assert.Equal("still"u8.ToArray(), await TestClient.ReadExactlyAsync(client, 5));
        // The socket closes a moment after the listener left the status: once no event loop
        // accepts on it any more.
        await Eventually.True(() => ConnectIsRefused(endPoint), "connecting to the removed listener is refused");
    }

    private static bool ConnectIsRefused(System.Net.IPEndPoint endPoint)
    {
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(endPoint);
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    [Fact]
    public async Task IdleTimeout_NothingMoves_ConnectionClosed()
    {
        var time = new FakeTimeProvider();
        await using var server = TestServer.Echo();
        var (host, _) = Start(TestHosts.Config(TestHosts.Listener("web", server) with { IdleTimeout = TimeSpan.FromSeconds(30) }), time);
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());
        await client.SendAsync("a"u8.ToArray());
        await TestClient.ReadExactlyAsync(client, 1);

        time.Advance(TimeSpan.FromSeconds(20));
        await client.SendAsync("b"u8.ToArray());
        Assert.Equal("b"u8.ToArray(), await TestClient.ReadExactlyAsync(client, 1));
        time.Advance(TimeSpan.FromSeconds(31));

        Assert.Equal(SocketError.Success, await TestClient.ReadEndAsync(client));
        await Eventually.True(() => host.GetStatus().ActiveConnections == 0, "the connection is gone");
    }

    [Fact]
    public async Task Stop_ConnectionOutlivesDeadline_ResetAfterIt()
    {
        var time = new FakeTimeProvider();
        await using var server = TestServer.Echo();
        var config = TestHosts.Config(TestHosts.Listener("web", server)) with { ShutdownTimeout = TimeSpan.FromSeconds(10) };
        var (host, _) = Start(config, time);
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());
        await client.SendAsync("a"u8.ToArray());
        await TestClient.ReadExactlyAsync(client, 1);

        var stop = host.StopAsync();
        await Eventually.True(() => IsRefused(host.EndPoint), "the listener is closed");
        await client.SendAsync("b"u8.ToArray());
        Assert.Equal("b"u8.ToArray(), await TestClient.ReadExactlyAsync(client, 1));
        Assert.False(stop.IsCompleted);

        // The host may not have started its deadline yet; keep time moving until it passes.
        await Eventually.True(() =>
        {
            time.Advance(TimeSpan.FromSeconds(1));
            return stop.IsCompleted;
        }, "the deadline passed and the host stopped");
        Assert.Equal(SocketError.ConnectionReset, await TestClient.ReadEndAsync(client));
    }

    [Fact]
    public async Task Stop_ConnectionEndsBeforeDeadline_StopsWithoutWaitingForIt()
    {
        await using var server = TestServer.Echo();
        var (host, _) = Start(TestHosts.Config(TestHosts.Listener("web", server)));
        await using var _h = host.StopOnDispose();
        var client = await TestClient.ConnectAsync(host.EndPoint());

        var stop = host.StopAsync();
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal(SocketError.Success, await TestClient.ReadEndAsync(client));
        client.Dispose();

        await stop.WaitAsync(Eventually.Limit);
    }

    private static bool IsRefused(Func<string, System.Net.IPEndPoint> endPoint)
    {
        try
        {
            endPoint("web");
            return false;
        }
        catch (KeyNotFoundException)
        {
            return true;
        }
    }
}

/// <summary>The relay tests with splice(2).</summary>
public sealed class SpliceRelayTests : RelayTests
{
    protected override bool Splice => true;
}

/// <summary>The relay tests with the user-space copy loop.</summary>
public sealed class CopyRelayTests : RelayTests
{
    protected override bool Splice => false;
}
