// SPDX-License-Identifier: MIT
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toa.Sockets;
using Toa.Testing;

namespace Toa.AspNetCore.Tests;

public class ToaConnectionMiddlewareTests
{
    private static async Task<(IPEndPoint? Seen, IToaFeature? Feature, ConnectionContext Context)> RunAsync(
        IToaSocketCalls calls, ToaOptions? options = null, bool withSocket = true, Func<ConnectionContext, Task>? inner = null)
    {
        using var pair = await LoopbackPair.CreateAsync();
        var context = new DefaultConnectionContext("c1") { RemoteEndPoint = pair.Accepted.RemoteEndPoint };
        if (withSocket)
            context.Features.Set<IConnectionSocketFeature>(new SocketFeature(pair.Accepted));
        IPEndPoint? seen = null;
        IToaFeature? feature = null;
        var middleware = new ToaConnectionMiddleware(async c =>
        {
            seen = c.RemoteEndPoint as IPEndPoint;
            feature = c.Features.Get<IToaFeature>();
            if (inner is not null)
                await inner(c);
        }, options ?? new ToaOptions(), new RealClientResolver(calls), NullLogger<ToaConnectionMiddleware>.Instance);
        await middleware.OnConnectionAsync(context);
        return (seen, feature, context);
    }

    [Fact]
    public async Task OnConnection_Nat64_PipelineSeesIpv6ClientThenOriginalIsRestored()
    {
        var (seen, feature, context) = await RunAsync(new Nat64Calls());

        Assert.Equal(Nat64Calls.Client, seen);
        Assert.Equal(ClientAddressSource.Nat64Lookup, feature!.Source);
        Assert.True(feature.Trusted);
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)context.RemoteEndPoint!).Address);
    }

    [Fact]
    public async Task OnConnection_NoReceiver_PipelineSeesTruePeer()
    {
        var (seen, feature, _) = await RunAsync(new NoReceiverCalls());

        Assert.Equal(IPAddress.Loopback, seen!.Address);
        Assert.Equal(ClientAddressSource.None, feature!.Source);
    }

    [Theory]
    [InlineData("10.0.0.0/8", false)]
    [InlineData("127.0.0.0/8", true)]
    [InlineData("::ffff:127.0.0.0/104", false)]
    public async Task OnConnection_AllowedNetworks_OnlyTheyMaySpeakForClients(string network, bool trusted)
    {
        var options = new ToaOptions();
        options.AllowedNetworks.Add(IPNetwork.Parse(network));

        var (seen, feature, _) = await RunAsync(new Nat64Calls(), options);

        Assert.Equal(trusted, feature!.Trusted);
        Assert.Equal(trusted ? Nat64Calls.Client.Address : IPAddress.Loopback, seen!.Address);
    }

    [Theory]
    [InlineData(13, 22)] // the pin cannot be opened (EACCES); a receiver says "not NAT64" (EINVAL)
    [InlineData(1, 92)]  // bpf(2) refused (EPERM); a receiver that cannot choose the errno (ENOPROTOOPT, before 5.18)
    [InlineData(19, 22)] // no pin in sight (a container without /sys/fs/bpf); a receiver says "not NAT64"
    public async Task OnConnection_AllowedNetworksButWirePeerUnverifiable_FailsClosedAndWarnsOnce(int recordErrno, int nat64Errno)
    {
        var options = new ToaOptions();
        options.AllowedNetworks.Add(IPNetwork.Parse("127.0.0.0/8"));
        var logger = new ListLogger<ToaConnectionMiddleware>();
        var seen = new List<(IPEndPoint? RemoteEndPoint, IToaFeature? Feature)>();
        var middleware = new ToaConnectionMiddleware(c =>
        {
            seen.Add((c.RemoteEndPoint as IPEndPoint, c.Features.Get<IToaFeature>()));
            return Task.CompletedTask;
        }, options, new RealClientResolver(new UnreadableRecordsCalls(recordErrno, nat64Errno)), logger);

        for (var i = 0; i < 2; i++)
        {
            using var pair = await LoopbackPair.CreateAsync();
            var context = new DefaultConnectionContext($"c{i}") { RemoteEndPoint = pair.Accepted.RemoteEndPoint };
            context.Features.Set<IConnectionSocketFeature>(new SocketFeature(pair.Accepted));
            await middleware.OnConnectionAsync(context);
        }

        Assert.Equal(2, seen.Count);
        foreach (var (remote, feature) in seen)
        {
            Assert.False(feature!.Trusted);
            Assert.Null(feature.Peer);
            Assert.Equal(new IPEndPoint(IPAddress.Any, 0), remote);
            Assert.Equal(remote, feature.Client);
        }
        var warning = Assert.Single(logger.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Equal("UnverifiablePeers", warning.Event.Name);
        Assert.Contains("AllowedNetworks", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnConnection_UnreadableRecordsWithoutAllowedNetworks_KeepsKernelPeer()
    {
        var (seen, feature, _) = await RunAsync(new UnreadableRecordsCalls(13, 22));

        Assert.True(feature!.Trusted);
        Assert.Equal(IPAddress.Loopback, seen!.Address);
    }

    [Fact]
    public async Task OnConnection_NoRecordYet_KeepsPeerUntilFeatureReadThenResolvesOnce()
    {
        var calls = new DataBorneCalls();
        IToaFeature? feature = null;

        var (seen, _, _) = await RunAsync(calls, inner: c =>
        {
            Assert.Equal(1, calls.Lookups); // nothing read yet: nothing asked again
            feature = c.Features.Get<IToaFeature>();
            Assert.Equal(DataBorneCalls.Record.Client, feature!.Client);
            Assert.Equal(DataBorneCalls.Record.Peer, feature.Peer);
            Assert.Equal(ClientAddressSource.ReceiverRecord, feature.Source);
            return Task.CompletedTask;
        });

        Assert.Equal(IPAddress.Loopback, seen!.Address); // the connection's endpoint stays the kernel's
        Assert.True(feature!.Trusted);
        Assert.Equal(2, calls.Lookups);
    }

    [Fact]
    public async Task OnConnection_NoRecordYetAndClientGoneBeforeFirstRead_KeepsAnswerAtOpening()
    {
        IToaFeature? feature = null;

        await RunAsync(new DataBorneCalls(), inner: c =>
        {
            feature = c.Features.Get<IToaFeature>();
            return Task.CompletedTask;
        });

        // RunAsync has closed the sockets: resolving again fails and the opening's answer stands.
        Assert.Equal(ClientAddressSource.None, feature!.Source);
        Assert.Equal(IPAddress.Loopback, feature.Client.Address);
    }

    [Fact]
    public async Task OnConnection_NoSocketFeature_LeavesConnectionAlone()
    {
        var calls = new Nat64Calls();

        var (seen, feature, _) = await RunAsync(calls, withSocket: false);

        Assert.Equal(IPAddress.Loopback, seen!.Address);
        Assert.Null(feature);
        Assert.Equal(0, calls.Calls);
    }

    [Fact]
    public async Task OnConnection_PipelineThrows_RestoresEndpointAndRethrows()
    {
        ConnectionContext? context = null;
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            RunAsync(new Nat64Calls(), inner: c =>
            {
                context = c;
                throw new InvalidOperationException("boom");
            }));

        Assert.Equal("boom", error.Message);
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)context!.RemoteEndPoint!).Address);
    }

    [Fact]
    public async Task OnConnection_ClientAlreadyClosed_StillRunsPipeline()
    {
        using var pair = await LoopbackPair.CreateAsync();
        pair.Client.Close();
        var context = new DefaultConnectionContext("c2") { RemoteEndPoint = pair.Accepted.RemoteEndPoint };
        context.Features.Set<IConnectionSocketFeature>(new SocketFeature(pair.Accepted));
        var ran = false;
        var middleware = new ToaConnectionMiddleware(_ =>
        {
            ran = true;
            return Task.CompletedTask;
        }, new ToaOptions(), RealClientResolver.System, NullLogger<ToaConnectionMiddleware>.Instance);

        await middleware.OnConnectionAsync(context);

        Assert.True(ran);
    }

    [Fact]
    public void Constructor_EmptyNetwork_FailsAtStartup()
    {
        var options = new ToaOptions();
        options.AllowedNetworks.Add(default);

        Assert.Throws<ArgumentException>(() => new ToaConnectionMiddleware(_ => Task.CompletedTask, options,
            RealClientResolver.System, NullLogger<ToaConnectionMiddleware>.Instance));
    }
}
