// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Toa.Sockets;
using Toa.Testing;

namespace Toa.AspNetCore.Tests;

/// <summary>Kestrel on loopback with the socket calls faked: what requests and handlers see.</summary>
public class KestrelTests
{
    private static async Task<(WebApplication App, Uri Address)> StartAsync(IToaSocketCalls calls, Action<KestrelServerOptions> listen, bool oneLine = true)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddSingleton(new RealClientResolver(calls));
        if (oneLine)
            builder.WebHost.UseToa();
        else
            builder.Services.AddToa();
        builder.WebHost.ConfigureKestrel(listen);
        var app = builder.Build();
        app.MapGet("/", (HttpContext c) =>
            $"{c.Connection.RemoteIpAddress} {c.Connection.RemotePort} {c.Features.Get<IToaFeature>()?.Source}");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Http11KeepAlive_EveryRequestSeesRealClient_OneLookupPerConnection()
    {
        var calls = new Nat64Calls();
        var (app, address) = await StartAsync(calls, k => k.Listen(IPAddress.Loopback, 0));
        await using var _ = app;
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = address };

        var answers = new List<string>();
        for (var i = 0; i < 3; i++)
            answers.Add(await http.GetStringAsync("/"));

        Assert.All(answers, a => Assert.Equal("2001:db8::7 2222 Nat64Lookup", a));
        Assert.Equal(1, calls.Calls);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Http11KeepAlive_ToaInFirstData_EveryRequestSeesClientResolvedOnce(bool oneLine)
    {
        var calls = new DataBorneCalls();
        var (app, address) = await StartAsync(calls, k => k.Listen(IPAddress.Loopback, 0, l =>
        {
            if (!oneLine)
                l.UseToa();
        }), oneLine);
        await using var _ = app;
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = address };

        var answers = new List<string>();
        for (var i = 0; i < 3; i++)
            answers.Add(await http.GetStringAsync("/"));

        Assert.All(answers, a => Assert.Equal("203.0.113.7 4321 ReceiverRecord", a));
        Assert.Equal(2, calls.Lookups);
    }

    [Fact]
    public async Task Http2_EveryStreamSeesRealClient()
    {
        var (app, address) = await StartAsync(new Nat64Calls(), k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        await using var _ = app;
        using var http = new HttpClient
        {
            BaseAddress = address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        var answers = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => http.GetStringAsync("/")));

        Assert.All(answers, a => Assert.Equal("2001:db8::7 2222 Nat64Lookup", a));
    }

    [Fact]
    public async Task ListenAnyIp_DualModeSocket_SeesRealClient()
    {
        var (app, address) = await StartAsync(new Nat64Calls(), k => k.ListenAnyIP(0));
        await using var _ = app;
        using var http = new HttpClient { BaseAddress = address };

        Assert.Equal("2001:db8::7 2222 Nat64Lookup", await http.GetStringAsync("/"));
    }

    [Fact]
    public async Task ListenAnyIp_NoReceiver_SeesMappedTruePeer()
    {
        var (app, address) = await StartAsync(new NoReceiverCalls(), k => k.ListenAnyIP(0));
        await using var _ = app;
        using var http = new HttpClient { BaseAddress = address };

        var answer = await http.GetStringAsync("/");

        Assert.StartsWith("::ffff:127.0.0.1 ", answer);
        Assert.EndsWith(" None", answer);
    }

    [Fact]
    public async Task PerEndpoint_OnlyThatEndpointIsChanged()
    {
        var (app, address) = await StartAsync(new Nat64Calls(), k =>
        {
            k.Listen(IPAddress.Loopback, 0, l => l.UseToa());
        }, oneLine: false);
        await using var _ = app;
        using var http = new HttpClient { BaseAddress = address };

        Assert.Equal("2001:db8::7 2222 Nat64Lookup", await http.GetStringAsync("/"));
    }

    [Fact]
    public async Task ConnectionHandler_NonHttp_SeesRealClient()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddSingleton(new RealClientResolver(new Nat64Calls()));
        builder.WebHost.UseToa();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseConnectionHandler<SayRemoteHandler>()));
        await using var app = builder.Build();
        await app.StartAsync();
        var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port);
        var buffer = new byte[256];
        var n = await client.ReceiveAsync(buffer);

        Assert.Equal("[2001:db8::7]:2222", Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public async Task ImmediateFin_ServerKeepsServing()
    {
        var (app, address) = await StartAsync(new Nat64Calls(), k => k.Listen(IPAddress.Loopback, 0));
        await using var _ = app;
        using (var rude = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await rude.ConnectAsync(IPAddress.Loopback, address.Port);
            rude.Shutdown(SocketShutdown.Both);
        }
        using var http = new HttpClient { BaseAddress = address };

        Assert.Equal("2001:db8::7 2222 Nat64Lookup", await http.GetStringAsync("/"));
    }

    private sealed class SayRemoteHandler : ConnectionHandler
    {
        public override async Task OnConnectedAsync(ConnectionContext connection)
        {
            await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(connection.RemoteEndPoint!.ToString()!));
            await connection.Transport.Output.CompleteAsync();
        }
    }
}
