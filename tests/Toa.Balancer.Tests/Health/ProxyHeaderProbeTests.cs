// SPDX-License-Identifier: MIT
using System.Net.Sockets;
using System.Text;
using Toa.Balancer.Configuration;
using Toa.Balancer.Health;
using Toa.Wire;

namespace Toa.Balancer.Tests.Health;

/// <summary>Health checks toward backends of a listener that sends PROXY v2: they open with a LOCAL header.</summary>
public sealed class ProxyHeaderProbeTests
{
    /// <summary>A backend that, as HAProxy's accept-proxy or UseToa's ProxyProtocol, wants a header first; it records the first 16 bytes.</summary>
    private static TestServer HeaderFirst(TaskCompletionSource<byte[]> first, bool answerHttp = false) => new(async socket =>
    {
        var head = await TestClient.ReadExactlyAsync(socket, 16);
        first.TrySetResult(head);
        if (!answerHttp)
            return;
        var request = new StringBuilder();
        var one = new byte[1];
        while (!request.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await socket.ReceiveAsync(one) == 1)
            request.Append((char)one[0]);
        var status = head.AsSpan().SequenceEqual(ProxyProtocol.V2Local) ? "200 OK" : "400 Bad Request";
        await socket.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
    });

    [Fact]
    public void V2Local_Parsed_CompleteWithoutAClient()
    {
        var parsed = ProxyProtocol.TryParse(ProxyProtocol.V2Local);

        Assert.Equal((ProxyParseStatus.Complete, 16), (parsed.Status, parsed.Length));
        Assert.Null(parsed.Header.Source);
    }

    [Fact]
    public async Task TcpProbe_WithProxyHeader_OpensWithALocalHeader()
    {
        var first = new TaskCompletionSource<byte[]>();
        await using var server = HeaderFirst(first);

        var healthy = await TcpConnectProbe.Instance.ProbeAsync(server.EndPoint, null, proxyHeader: true, CancellationToken.None);

        Assert.True(healthy);
        Assert.Equal(ProxyProtocol.V2Local.ToArray(), await first.Task.WaitAsync(Eventually.Limit));
    }

    [Fact]
    public async Task HttpProbe_BackendWantsAHeader_HealthyOnlyWithTheLocalHeader()
    {
        var withHeader = new TaskCompletionSource<byte[]>();
        var without = new TaskCompletionSource<byte[]>();
        await using var server = HeaderFirst(withHeader, answerHttp: true);
        await using var plain = HeaderFirst(without, answerHttp: true);
        var probe = new HttpProbe("/healthz", 200);

        Assert.True(await probe.ProbeAsync(server.EndPoint, null, proxyHeader: true, CancellationToken.None));
        Assert.False(await probe.ProbeAsync(plain.EndPoint, null, proxyHeader: false, CancellationToken.None));
        Assert.Equal(ProxyProtocol.V2Local.ToArray(), await withHeader.Task.WaitAsync(Eventually.Limit));
    }

    [Theory]
    [InlineData("v2", true)]
    [InlineData("off", false)]
    [InlineData(null, false)]
    public void Settings_ListenerSendsProxyV2_ItsChecksSendTheHeader(string? proxyProtocol, bool header)
    {
        var config = TestHosts.Listener("web", ["127.0.0.1:1"]) with { ProxyProtocol = proxyProtocol };

        Assert.Equal(header, ListenerSettings.From(config).Health.ProxyHeader);
    }
}
