// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Wire;

namespace Toa.Balancer.Tests.Relay;

/// <summary>A listener with <c>"proxyProtocol": "v2"</c>: what its backends read before the client's bytes.</summary>
public sealed class ProxyProtocolRelayTests
{
    /// <summary>A backend that reads one byte at a time until a PROXY header is complete, then what follows.</summary>
    private static TestServer HeaderReader(TaskCompletionSource<(ProxyParseResult Header, byte[] After)> seen, int after) => new(async socket =>
    {
        var buffer = new List<byte>();
        ProxyParseResult result;
        do
        {
            buffer.AddRange(await TestClient.ReadExactlyAsync(socket, 1));
            result = ProxyProtocol.TryParse([.. buffer]);
        }
        while (result.Status == ProxyParseStatus.Incomplete);
        seen.SetResult((result, result.Status == ProxyParseStatus.Complete ? await TestClient.ReadExactlyAsync(socket, after) : []));
    });

    [Fact]
    public async Task Relay_ProxyProtocolV2_BackendReadsTheClientAndListenerThenTheClientsBytes()
    {
        var seen = new TaskCompletionSource<(ProxyParseResult Header, byte[] After)>();
        await using var server = HeaderReader(seen, after: 5);
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server) with { ProxyProtocol = "v2" }));
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());

        await client.SendAsync("hello"u8.ToArray());
        var (header, after) = await seen.Task.WaitAsync(Eventually.Limit);

        Assert.Equal(ProxyParseStatus.Complete, header.Status);
        Assert.Equal(new ProxyHeader(2, (IPEndPoint)client.LocalEndPoint!, host.EndPoint()), header.Header);
        Assert.Equal("hello"u8.ToArray(), after);
    }

    [Fact]
    public async Task Relay_ProxyProtocolV2AndTheBackendSpeaksFirst_HeaderStillComesFirst()
    {
        // No client byte at all: the header goes out as soon as the backend is connected.
        var seen = new TaskCompletionSource<(ProxyParseResult Header, byte[] After)>();
        await using var server = HeaderReader(seen, after: 0);
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server) with { ProxyProtocol = "v2" }));
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());

        var (header, _) = await seen.Task.WaitAsync(Eventually.Limit);

        Assert.Equal((IPEndPoint)client.LocalEndPoint!, header.Header.Source);
    }

    [Fact]
    public async Task Relay_ProxyProtocolOff_BackendReadsOnlyTheClientsBytes()
    {
        var received = new TaskCompletionSource<byte[]>();
        await using var server = new TestServer(async socket => received.SetResult(await TestClient.ReadExactlyAsync(socket, 5)));
        var (host, _) = TestHosts.Start(TestHosts.Config(TestHosts.Listener("web", server) with { ProxyProtocol = "off" }));
        await using var _h = host.StopOnDispose();
        using var client = await TestClient.ConnectAsync(host.EndPoint());

        await client.SendAsync("hello"u8.ToArray());

        Assert.Equal("hello"u8.ToArray(), await received.Task.WaitAsync(Eventually.Limit));
    }
}
