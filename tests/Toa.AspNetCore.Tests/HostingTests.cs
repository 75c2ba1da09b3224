// SPDX-License-Identifier: MIT
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Toa.Lab;
using Toa.Sockets;
using Toa.Testing;

namespace Toa.AspNetCore.Tests;

/// <summary>What a host built with AddToa gets: options from configuration checked at start, the meter, the health check, ForwardedHeaders after it.</summary>
public class HostingTests
{
    private static WebApplicationBuilder Builder(IToaSocketCalls calls, Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddSingleton(new RealClientResolver(calls));
        builder.Services.AddToa(builder.Configuration.GetSection("Toa"));
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseToa()));
        return builder;
    }

    private static async Task<HttpClient> StartAsync(WebApplication app)
    {
        app.MapGet("/", (HttpContext c) => $"{c.Connection.RemoteIpAddress}");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new HttpClient { BaseAddress = new Uri(address) };
    }

    [Fact]
    public void AddToa_Configuration_BindsNetworksAndPinDirectory()
    {
        var builder = Builder(new NoReceiverCalls(), new()
        {
            ["Toa:AllowedNetworks:0"] = "10.0.0.0/8",
            ["Toa:AllowedNetworks:1"] = "fd00::/8",
            ["Toa:ReceiverPinDirectory"] = "/sys/fs/bpf/toa-web",
        });
        using var app = builder.Build();

        var options = app.Services.GetRequiredService<IOptions<ToaOptions>>().Value;

        Assert.Equal([System.Net.IPNetwork.Parse("10.0.0.0/8"), System.Net.IPNetwork.Parse("fd00::/8")], options.AllowedNetworks);
        Assert.Equal("/sys/fs/bpf/toa-web", options.ReceiverPinDirectory);
    }

    [Theory]
    [InlineData("Toa:AllowedNetworks:1", "10.0.0.300/8", "Toa:AllowedNetworks:1 = '10.0.0.300/8': not a network in CIDR notation")]
    [InlineData("Toa:ReceiverPinDirectory", "bpf/toa", "ToaOptions.ReceiverPinDirectory = 'bpf/toa': must be an absolute path")]
    public async Task Start_BadSetting_FailsNamingTheKeyAndTheValue(string key, string value, string expected)
    {
        var builder = Builder(new NoReceiverCalls(), new() { ["Toa:AllowedNetworks:0"] = "10.0.0.0/8", [key] = value });

        var e = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = builder.Build();
            await app.StartAsync();
        });

        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public async Task Meter_UntrustedClaim_CountsTheConnectionBySourceAndTheRefusal()
    {
        var builder = Builder(new Nat64Calls(), new() { ["Toa:AllowedNetworks:0"] = "10.0.0.0/8" });
        await using var app = builder.Build();
        var measured = new List<(string Instrument, long Value, string Tag)>();
        using var listener = new MeterListener();
        var factory = app.Services.GetRequiredService<IMeterFactory>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Toa.AspNetCore" && ReferenceEquals(instrument.Meter.Scope, factory))
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            lock (measured)
                measured.Add((instrument.Name, value, $"{tags[0].Key}={tags[0].Value}"));
        });
        listener.Start();
        using var http = await StartAsync(app);

        var seen = await http.GetStringAsync("/");

        Assert.Equal("127.0.0.1", seen);
        lock (measured)
            Assert.Equal(
            [
                ("toa.aspnetcore.connections", 1L, "toa.client.source=nat64_lookup"),
                ("toa.aspnetcore.claims_refused", 1L, "toa.refusal=untrusted_peer"),
            ], measured);
    }

    [Fact]
    public async Task HealthCheck_NoReceiverPinned_UnhealthySayingWhere()
    {
        var pins = $"/nonexistent-toa-{Guid.NewGuid():N}";
        var builder = Builder(new NoReceiverCalls(), new() { ["Toa:ReceiverPinDirectory"] = pins });
        builder.Services.AddHealthChecks().AddToaReceiver();
        using var app = builder.Build();

        var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        var entry = Assert.Single(report.Entries);
        Assert.Equal("toa-receiver", entry.Key);
        Assert.Equal(HealthStatus.Unhealthy, entry.Value.Status);
        Assert.Contains(pins, entry.Value.Description);
    }

    [Fact]
    public async Task HealthCheck_RecordsPinnedAndReadable_Healthy()
    {
        KernelTest.Require("root and bpffs at /sys/fs/bpf");
        var pins = Directory.CreateDirectory($"/sys/fs/bpf/toa-health-{Environment.ProcessId}-{Guid.NewGuid():N}").FullName;
        try
        {
            // Any map pinned where the receiver pins its records: what the check looks for is that it can open it.
            Shell.Run(ToolTest.Require("/usr/sbin/bpftool", "bpftool"), "map", "create", Path.Combine(pins, "records"),
                "type", "hash", "key", "4", "value", "4", "entries", "1", "name", "toa_health");
            var builder = Builder(new NoReceiverCalls(), new() { ["Toa:ReceiverPinDirectory"] = pins });
            builder.Services.AddHealthChecks().AddToaReceiver();
            using var app = builder.Build();

            var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

            Assert.Equal(HealthStatus.Healthy, report.Status);
        }
        finally
        {
            foreach (var pin in Directory.EnumerateFiles(pins))
                File.Delete(pin);
            Directory.Delete(pins);
        }
    }

    // UseToa works on the connection, before any request middleware: ForwardedHeaders then sees the TOA's
    // client as the remote address, so KnownProxies must name the proxies in front of the load balancer
    // (what the TOA carries), not the load balancer itself.
    [Theory]
    [InlineData("2001:db8::7", "198.51.100.9")] // the TOA's client is a known proxy: its X-Forwarded-For is believed
    [InlineData("127.0.0.1", "2001:db8::7")]    // only the wire peer (the load balancer) is known: the header is ignored
    public async Task ForwardedHeaders_AfterToa_KnownProxiesSeeTheToaClient(string knownProxy, string expected)
    {
        var builder = Builder(new Nat64Calls(), new());
        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
            o.KnownProxies.Clear();
            o.KnownProxies.Add(IPAddress.Parse(knownProxy));
        });
        await using var app = builder.Build();
        app.UseForwardedHeaders();
        using var http = await StartAsync(app);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { { "X-Forwarded-For", "198.51.100.9" } } };

        var seen = await (await http.SendAsync(request)).Content.ReadAsStringAsync();

        Assert.Equal(expected, seen);
    }
}
