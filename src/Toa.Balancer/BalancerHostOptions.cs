// SPDX-License-Identifier: MIT
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toa.Balancer.Configuration;
using Toa.Balancer.Health;
using Toa.Balancer.Packet;
using Toa.Balancer.Scheduling;

namespace Toa.Balancer;

/// <summary>What a <see cref="BalancerHost"/> runs with. Only the configuration provider is required.</summary>
public sealed class BalancerHostOptions
{
    /// <summary>Where the configuration comes from (<see cref="FileConfigProvider"/>, <see cref="InMemoryConfigProvider"/>).</summary>
    public required IBalancerConfigProvider ConfigProvider { get; init; }

    /// <summary>Writes the TOA on backend connections. Default: <see cref="NoToaWriter"/> (none written, each counted as failed).</summary>
    public IToaWriter ToaWriter { get; init; } = new NoToaWriter();

    /// <summary>Runs the listeners whose engine is "packet". Default: <see cref="NoPacketEngine"/> (such listeners are refused).</summary>
    public IPacketEngine PacketEngine { get; init; } = new NoPacketEngine();

    /// <summary>Logging. Default: none.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Clock for health checks, timeouts and the shutdown deadline. Default: the system's.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The active health check. Default: <see cref="TcpConnectProbe"/>.</summary>
    public IHealthProbe HealthProbe { get; init; } = TcpConnectProbe.Instance;

    /// <summary>The policies listeners may name. Default: <see cref="SchedulingPolicies.BuiltIn"/>.</summary>
    public IReadOnlyList<ISchedulingPolicy> SchedulingPolicies { get; init; } = Scheduling.SchedulingPolicies.BuiltIn;

    /// <summary>Randomness for the policies, one instance per listener. Default: unseeded <see cref="Random"/>.</summary>
    public Func<Random> RandomFactory { get; init; } = static () => new Random();

    /// <summary>
    /// Relay with splice(2) where the system has it (Linux): bytes move between the sockets
    /// inside the kernel. Default: true. False copies through pooled user-space buffers.
    /// </summary>
    public bool Splice { get; init; } = true;

    /// <summary>
    /// Threads that relay (event loops); each connection runs on one of them. Default (0): one
    /// per CPU. Fewer leave CPUs to other work on a shared machine.
    /// </summary>
    public int RelayThreads { get; init; }

    /// <summary>How often idle connections are looked for. Default: 1 second.</summary>
    public TimeSpan IdleSweepInterval { get; init; } = TimeSpan.FromSeconds(1);
}
