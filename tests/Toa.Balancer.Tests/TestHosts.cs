// SPDX-License-Identifier: MIT
using System.Net;
using Microsoft.Extensions.Time.Testing;
using Toa.Balancer.Configuration;

namespace Toa.Balancer.Tests;

/// <summary>Balancer hosts for tests: in-memory configuration, loopback only, a fake clock by default.</summary>
internal static class TestHosts
{
    public static ListenerConfig Listener(string name, params TestServer[] backends) =>
        Listener(name, backends.Select(b => b.Address));

    /// <summary>A listener to backends given by address, such as sockets a test made itself.</summary>
    public static ListenerConfig Listener(string name, IEnumerable<string> backends) => new()
    {
        Name = name,
        Address = "127.0.0.1:0",
        Scheduler = "round-robin",
        Backends = backends.Select(b => new BackendConfig { Address = b }).ToArray(),
    };

    public static BalancerConfig Config(params ListenerConfig[] listeners) => new() { Admin = "", AdminSocket = "", Listeners = listeners };

    /// <summary>A started host; with the fake clock, health checks, idle sweeps and deadlines wait for the test.</summary>
    public static (BalancerHost Host, InMemoryConfigProvider Provider) Start(
        BalancerConfig config, TimeProvider? time = null, IToaWriter? toa = null, Toa.Balancer.Health.IHealthProbe? probe = null, bool splice = true,
        Toa.Balancer.Packet.IPacketEngine? packet = null, Microsoft.Extensions.Logging.ILoggerFactory? logging = null)
    {
        var provider = new InMemoryConfigProvider(config);
        var host = BalancerHost.Start(new BalancerHostOptions
        {
            ConfigProvider = provider,
            TimeProvider = time ?? new FakeTimeProvider(),
            ToaWriter = toa ?? new NoToaWriter(),
            HealthProbe = probe ?? Toa.Balancer.Health.TcpConnectProbe.Instance,
            RandomFactory = () => new Random(1),
            Splice = splice,
            PacketEngine = packet ?? new Toa.Balancer.Packet.NoPacketEngine(),
            LoggerFactory = logging ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
        });
        return (host, provider);
    }

    public static IPEndPoint EndPoint(this BalancerHost host, string listener = "web") => host.GetListenerEndPoint(listener);

    /// <summary>Stops the host at the end of a test, failing rather than hanging if a connection never ends.</summary>
    public static IAsyncDisposable StopOnDispose(this BalancerHost host) => new Stopper(host);

    private sealed class Stopper(BalancerHost host) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await host.StopAsync().WaitAsync(Eventually.Limit);
    }
}
