// SPDX-License-Identifier: MIT
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Toa.Sockets;
using Toa.Testing;
using Toa.Wire;

namespace Toa.AspNetCore.Tests;

/// <summary>Kestrel on loopback with <c>UseToa</c> on a listener that expects a PROXY protocol header.</summary>
public sealed class ProxyProtocolTests
{
    private static readonly IPEndPoint Claimed = IPEndPoint.Parse("203.0.113.9:4444");
    private static readonly byte[] Request = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"u8.ToArray();

    private static async Task<(WebApplication App, IPEndPoint Address)> StartAsync(Action<ToaOptions> configure)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddSingleton(new RealClientResolver(new NoReceiverCalls()));
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.UseToa(configure)));
        var app = builder.Build();
        app.MapGet("/", (HttpContext c) =>
            $"{c.Connection.RemoteIpAddress} {c.Connection.RemotePort} {c.Features.Get<IToaFeature>()?.Source} {c.Features.Get<IToaFeature>()?.Trusted}");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new IPEndPoint(IPAddress.Loopback, new Uri(address).Port));
    }

    private static byte[] Header(IPEndPoint source, IPEndPoint destination)
    {
        var header = new byte[ProxyProtocol.V2Length(source, destination)];
        ProxyProtocol.WriteV2(header, source, destination);
        return header;
    }

    /// <summary>Sends <paramref name="pieces"/> one by one and reads the answer until the server closes.</summary>
    private static async Task<(string Answer, IPEndPoint Local)> ExchangeAsync(IPEndPoint server, params byte[][] pieces)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(server);
        foreach (var piece in pieces)
            await client.SendAsync(piece);
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await client.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(30))) > 0)
                answer.Write(buffer, 0, n);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // An aborted connection may end in a reset rather than a FIN.
        }
        return (Encoding.ASCII.GetString(answer.ToArray()), (IPEndPoint)client.LocalEndPoint!);
    }

    [Fact]
    public void Constructor_ProxyProtocolWithoutATimeout_ThrowsAtStartup()
    {
        var options = new ToaOptions { ProxyProtocol = true, ProxyProtocolTimeout = TimeSpan.Zero };

        Assert.Throws<ArgumentException>(() => new ToaConnectionMiddleware(
            _ => Task.CompletedTask, options, new RealClientResolver(new NoReceiverCalls()),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<ToaConnectionMiddleware>.Instance));
    }

    [Fact]
    public async Task ProxyV2_RequestSeesTheClientTheHeaderNames()
    {
        var (app, server) = await StartAsync(o => o.ProxyProtocol = true);
        await using var _ = app;

        var (answer, _) = await ExchangeAsync(server, [.. Header(Claimed, server), .. Request]);

        Assert.Contains("203.0.113.9 4444 ProxyHeader True", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProxyV2_HeaderInPieces_WaitsForTheRest()
    {
        var (app, server) = await StartAsync(o => o.ProxyProtocol = true);
        await using var _ = app;
        var header = Header(IPEndPoint.Parse("[2001:db8::5]:6000"), server);

        var (answer, _) = await ExchangeAsync(server, header[..5], header[5..20], [.. header[20..], .. Request]);

        Assert.Contains("2001:db8::5 6000 ProxyHeader True", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProxyV1_ReadToo()
    {
        var (app, server) = await StartAsync(o => o.ProxyProtocol = true);
        await using var _ = app;

        var line = Encoding.ASCII.GetBytes($"PROXY TCP4 198.51.100.4 127.0.0.1 5555 {server.Port}\r\n");

        var (answer, _) = await ExchangeAsync(server, [.. line, .. Request]);

        Assert.Contains("198.51.100.4 5555 ProxyHeader True", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProxyV2Local_TheConnectionsOwnPeerStands()
    {
        var (app, server) = await StartAsync(o => o.ProxyProtocol = true);
        await using var _ = app;
        byte[] local = [.. ProxyProtocol.V2Signature, 0x20, 0x00, 0x00, 0x00];

        var (answer, client) = await ExchangeAsync(server, [.. local, .. Request]);

        Assert.Contains($"127.0.0.1 {client.Port} None True", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoHeader_ConnectionClosedUnansweredAndCountedInvalid()
    {
        using var refusals = new RefusalListener();
        var (app, server) = await StartAsync(o => o.ProxyProtocol = true);
        await using var _ = app;

        var (answer, _) = await ExchangeAsync(server, Request);

        Assert.Equal("", answer);
        Assert.Contains("invalid", refusals.Reasons);
    }

    [Fact]
    public async Task SilentClient_ClosedAfterTheTimeoutAndCounted()
    {
        using var refusals = new RefusalListener();
        var (app, server) = await StartAsync(o => (o.ProxyProtocol, o.ProxyProtocolTimeout) = (true, TimeSpan.FromMilliseconds(200)));
        await using var _ = app;

        var (answer, _) = await ExchangeAsync(server, ProxyProtocol.V2Signature[..6].ToArray());

        Assert.Equal("", answer);
        Assert.Contains("timeout", refusals.Reasons);
    }

    [Fact]
    public async Task ClientClosesMidHeader_CountedClosedAndTheServerGoesOn()
    {
        using var refusals = new RefusalListener();
        var (app, server) = await StartAsync(o => o.ProxyProtocol = true);
        await using var _ = app;
        using (var rude = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await rude.ConnectAsync(server);
            await rude.SendAsync(Header(Claimed, server)[..10]);
            rude.Shutdown(SocketShutdown.Both);
        }

        var (answer, _) = await ExchangeAsync(server, [.. Header(Claimed, server), .. Request]);

        Assert.Contains("203.0.113.9 4444 ProxyHeader True", answer, StringComparison.Ordinal);
        await Task.Run(async () =>
        {
            while (!refusals.Reasons.Contains("closed"))
                await Task.Delay(20);
        }).WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task PeerOutsideAllowedNetworks_ItsHeaderIsIgnored()
    {
        var (app, server) = await StartAsync(o =>
        {
            o.ProxyProtocol = true;
            o.AllowedNetworks.Add(IPNetwork.Parse("10.0.0.0/8"));
        });
        await using var _ = app;

        var (answer, client) = await ExchangeAsync(server, [.. Header(Claimed, server), .. Request]);

        Assert.Contains($"127.0.0.1 {client.Port} ProxyHeader False", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProxyProtocolOff_AHeaderIsNotGuessedAt()
    {
        var (app, server) = await StartAsync(_ => { });
        await using var _ = app;

        var (answer, _) = await ExchangeAsync(server, [.. Header(Claimed, server), .. Request]);

        Assert.StartsWith("HTTP/1.1 400", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HaProxySendProxyV2_RequestSeesTheClientHaProxyAccepted()
    {
        var (app, server) = await StartAsync(o => o.ProxyProtocol = true);
        await using var _ = app;
        var front = new IPEndPoint(IPAddress.Loopback, HaProxy.FreePort());
        using var haproxy = await HaProxy.StartAsync($"""
            listen front
                mode tcp
                bind {front}
                server kestrel {server} send-proxy-v2
            """, front);

        var (answer, client) = await ExchangeAsync(front, Request);

        Assert.Contains($"127.0.0.1 {client.Port} ProxyHeader True", answer, StringComparison.Ordinal);
    }

    /// <summary>Collects the reasons the "Toa.AspNetCore" meter's refusal counter is given.</summary>
    private sealed class RefusalListener : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<string> _reasons = new();

        public RefusalListener()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Toa.AspNetCore" && instrument.Name == "toa.aspnetcore.proxy_headers_refused")
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "toa.refusal")
                        _reasons.Enqueue((string)tag.Value!);
                }
            });
            _listener.Start();
        }

        public IReadOnlyCollection<string> Reasons => [.. _reasons];

        public void Dispose() => _listener.Dispose();
    }
}
