// SPDX-License-Identifier: MIT
using System.Diagnostics.Metrics;

namespace Toa.AspNetCore;

/// <summary>
/// Counts connections refused for their PROXY header, on the "Toa.AspNetCore" meter
/// (<c>dotnet-counters monitor --counters Toa.AspNetCore</c>). Kept apart so the counter can join the
/// library's other instruments on one <see cref="Meter"/>.
/// </summary>
internal static class ProxyProtocolMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Toa.AspNetCore";

    /// <summary>The counter's name; tagged <c>reason</c>: invalid, timeout, closed.</summary>
    public const string RefusedName = "toa.proxy_protocol.refused";

    private static readonly Meter s_meter = new(MeterName);

    private static readonly Counter<long> s_refused = s_meter.CreateCounter<long>(
        RefusedName, unit: "{connection}", description: "Connections closed because their PROXY protocol header was missing, invalid or late");

    /// <summary>Counts one refused connection.</summary>
    public static void Refused(ProxyRefusal reason) =>
        s_refused.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString().ToLowerInvariant()));
}

/// <summary>Why a connection's PROXY header was refused.</summary>
internal enum ProxyRefusal
{
    /// <summary>The bytes are no PROXY header.</summary>
    Invalid,
    /// <summary>The whole header did not come within <see cref="ToaOptions.ProxyProtocolTimeout"/>.</summary>
    Timeout,
    /// <summary>The client closed before its header was complete.</summary>
    Closed,
}
