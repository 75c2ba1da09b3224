// SPDX-License-Identifier: MIT
using System.Reflection;
using Prometheus;

namespace Toa.Balancer.Metrics;

/// <summary>
/// What every toa exporter shows about itself: <c>toa_build_info</c> and the process's
/// descriptors, memory and CPU (prometheus-net's <c>process_*</c> and <c>dotnet_*</c> collectors).
/// </summary>
public static class ProcessMetrics
{
    /// <summary>The gauge, always 1, whose labels name the build.</summary>
    public const string BuildInfo = "toa_build_info";

    /// <summary>This build's version, as the assembly's informational version says (without the commit suffix).</summary>
    public static string Version { get; } =
        (typeof(ProcessMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0")
        .Split('+')[0];

    /// <summary>Adds the build and process metrics to <paramref name="registry"/>.</summary>
    public static void Register(CollectorRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        DotNetStats.Register(registry);
        Prometheus.Metrics.WithCustomRegistry(registry)
            .CreateGauge(BuildInfo, "1; the labels name the build: version and the .NET runtime.", "version", "runtime")
            .WithLabels(Version, Environment.Version.ToString())
            .Set(1);
    }
}
