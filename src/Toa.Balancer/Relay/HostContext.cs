// SPDX-License-Identifier: MIT
using Microsoft.Extensions.Logging;
using Toa.Balancer.Health;
using Toa.Balancer.Metrics;
using Toa.Balancer.Scheduling;

namespace Toa.Balancer.Relay;

/// <summary>
/// What every listener of a host shares. <see cref="Pipes"/> is null when the relay copies rather
/// than splices. Every connection runs on one of <see cref="Loops"/>. <see cref="Log"/> is the
/// connection log of the listeners that have one.
/// </summary>
internal sealed record HostContext(
    IToaWriter Toa,
    TimeProvider Time,
    ILoggerFactory LoggerFactory,
    IHealthProbe Probe,
    IReadOnlyList<ISchedulingPolicy> Policies,
    Func<Random> RandomFactory,
    BalancerMetrics Metrics,
    ConnectionTracker Connections,
    PipePool? Pipes,
    IReadOnlyList<EventLoop> Loops,
    ConnectionLog Log);
