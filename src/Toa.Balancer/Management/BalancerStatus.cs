// SPDX-License-Identifier: MIT
using System.Text.Json.Serialization;

namespace Toa.Balancer.Management;

/// <summary>What <c>toa lb status</c> shows: every listener and backend with its state and connections.</summary>
/// <param name="ActiveConnections">Client connections being relayed now, over all proxy listeners.</param>
/// <param name="MaxConnections">The proxy listeners' overall limit; 0 means none.</param>
/// <param name="Listeners">Every listener.</param>
/// <param name="Packet">The packet engine's connections, when a listener uses it; else null.</param>
public sealed record BalancerStatus(int ActiveConnections, int MaxConnections, IReadOnlyList<ListenerStatus> Listeners, PacketStatus? Packet = null);

/// <summary>The packet engine as a whole.</summary>
/// <param name="ActiveConnections">Connections it tracks now, over all packet listeners.</param>
/// <param name="MaxConnections">The most it tracks (the configuration's <c>packet.maxConnections</c>).</param>
public sealed record PacketStatus(long ActiveConnections, int MaxConnections);

/// <summary>One listener.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Address">The bound address.</param>
/// <param name="Toa">"tencent", "dpvs" or "off".</param>
/// <param name="Scheduler">The scheduling policy's name.</param>
/// <param name="Backends">Its pool.</param>
/// <param name="Engine">"proxy" or "packet".</param>
public sealed record ListenerStatus(string Name, string Address, string Toa, string Scheduler, IReadOnlyList<BackendStatusInfo> Backends,
    string Engine = Configuration.EngineNames.Proxy);

/// <summary>One backend.</summary>
/// <param name="Address">"10.0.0.1:80".</param>
/// <param name="Weight">Its weight.</param>
/// <param name="Status">"healthy", "unhealthy", "draining" or "disabled".</param>
/// <param name="Health">"healthy" or "unhealthy", whatever the admin state.</param>
/// <param name="ActiveConnections">Connections open now (for a packet listener: those the engine tracks).</param>
/// <param name="TotalConnections">Connections opened since it joined the pool (for a packet listener: since the engine's state began).</param>
/// <param name="MaxConnections">Its limit; 0 means none.</param>
public sealed record BackendStatusInfo(string Address, int Weight, string Status, string Health, int ActiveConnections, long TotalConnections, int MaxConnections);

/// <summary>The answer to drain, disable and enable: the backends the command matched, as "listener/address".</summary>
/// <param name="Backends">The matched backends.</param>
public sealed record AdminCommandResult(IReadOnlyList<string> Backends);

/// <summary>The answer to reload.</summary>
/// <param name="Result">"applied" (the new configuration runs), "unchanged" (the file holds the running one) or "refused" (the running one stays).</param>
/// <param name="Reason">Why it was refused, or null.</param>
public sealed record AdminReloadResult(string Result, string? Reason = null)
{
    /// <summary>The result of a reload that changed nothing because the new configuration was refused.</summary>
    public const string Refused = "refused";
}

/// <summary>The admin endpoint's answer to a request it refuses.</summary>
/// <param name="Error">Why.</param>
public sealed record AdminError(string Error);

/// <summary>Source-generated JSON for the admin endpoint and its client.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(BalancerStatus))]
[JsonSerializable(typeof(AdminCommandResult))]
[JsonSerializable(typeof(AdminError))]
[JsonSerializable(typeof(AdminReloadResult))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;
