// SPDX-License-Identifier: MIT
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Toa.Sockets;

namespace Toa.AspNetCore;

/// <summary><c>builder.Services.AddHealthChecks().AddToaReceiver()</c>: is our TOA receiver loaded on this host?</summary>
public static class ToaHealthChecks
{
    /// <summary>
    /// Adds a check that is healthy while our receiver's per-connection records are pinned and readable under
    /// <see cref="ToaOptions.ReceiverPinDirectory"/>, and reports <paramref name="failureStatus"/> (default
    /// unhealthy) otherwise: connections then show the load balancer's address instead of their clients'.
    /// </summary>
    public static IHealthChecksBuilder AddToaReceiver(this IHealthChecksBuilder builder, string name = "toa-receiver",
        HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new HealthCheckRegistration(name,
            sp => new ReceiverLoadedCheck(sp.GetService<IOptions<ToaOptions>>()?.Value.ReceiverPinDirectory ?? ReceiverRecords.DefaultPinDirectory),
            failureStatus, tags));
    }

    private sealed class ReceiverLoadedCheck(string pinDirectory) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            using var records = ReceiverRecords.TryOpen(pinDirectory);
            return Task.FromResult(records is not null
                ? HealthCheckResult.Healthy($"TOA receiver loaded: its records are pinned at {pinDirectory}")
                : new HealthCheckResult(context.Registration.FailureStatus,
                    $"TOA receiver not loaded, or its records at {pinDirectory} are unreadable to this process (toa load; toa status)"));
        }
    }
}
