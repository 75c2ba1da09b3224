// SPDX-License-Identifier: MIT
using Prometheus;
using Toa.Balancer.Metrics;
using Toa.Receiver;

namespace Toa.Cli.Metrics;

/// <summary>
/// The receiver's counters in Prometheus' text format, written by prometheus-net. Each counter is
/// summed over CPUs: the per-CPU split is how the kernel side counts without locks, not something to
/// graph, and a sum over every possible CPU never goes down when a CPU goes offline. <c>toa stats</c>
/// still shows each CPU.
/// </summary>
internal static class ReceiverMetrics
{
    /// <summary>The gauge that tells whether the receiver is loaded.</summary>
    public const string Loaded = "toa_receiver_loaded";

    /// <summary>The Prometheus name of receiver counter <paramref name="counter"/>.</summary>
    public static string Name(string counter) => $"toa_receiver_{counter}_total";

    /// <summary>
    /// One scrape: <see cref="Loaded"/>, every counter when <paramref name="counters"/> is not null,
    /// and this exporter's own build and process metrics.
    /// </summary>
    public static Task WriteAsync(ReceiverCounters? counters, Stream destination, CancellationToken cancel)
    {
        // A registry per scrape: prometheus-net's counters only go up, but the receiver's start again
        // at zero when it is unloaded and loaded, and a scrape must show that reset as it is.
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        factory.CreateGauge(Loaded, "1 when the TOA receiver is loaded (its programs attached and pinned), else 0.")
            .Set(counters is null ? 0 : 1);
        foreach (var counter in counters?.Counters ?? [])
            factory.CreateCounter(Name(counter.Name), $"{CounterDescriptions.Of(counter.Name)} Summed over CPUs.").IncTo(counter.Total);
        ProcessMetrics.Register(registry);
        return registry.CollectAndExportAsTextAsync(destination, cancel);
    }
}
