// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Balancer.Model;

namespace Toa.Balancer.Scheduling;

/// <summary>
/// Chooses the backend for a new connection. Policies keep no per-pool fields: whatever they
/// derive from the candidates lives on the <see cref="BackendSet"/>, which is replaced when
/// the candidates change.
/// </summary>
public interface ISchedulingPolicy
{
    /// <summary>The name configuration files use (see <see cref="SchedulingPolicies"/>).</summary>
    string Name { get; }

    /// <summary>One of <see cref="SchedulingContext.Candidates"/>, or null when there is none.</summary>
    Backend? Pick(in SchedulingContext context);
}

/// <summary>What a policy knows about one new connection.</summary>
/// <param name="Client">The client, IPv4-mapped addresses unwrapped.</param>
/// <param name="Candidates">The pool's backends that may take the connection.</param>
/// <param name="Random">Randomness for tie-breaking, used from one thread at a time.</param>
public readonly record struct SchedulingContext(IPEndPoint Client, BackendSet Candidates, Random Random);

/// <summary>The names of the built-in policies.</summary>
public static class SchedulingPolicies
{
    /// <summary>Each backend in turn, weights ignored.</summary>
    public const string RoundRobin = "round-robin";

    /// <summary>Each backend in proportion to its weight, smoothly interleaved.</summary>
    public const string WeightedRoundRobin = "weighted-round-robin";

    /// <summary>The backend with the fewest open connections per unit of weight; ties broken at random.</summary>
    public const string LeastConnections = "least-connections";

    /// <summary>Consistent hashing of the client address with a Maglev lookup table (weights honoured).</summary>
    public const string Maglev = "maglev";

    /// <summary>Consistent hashing of the client address on a ring of virtual nodes (weights honoured).</summary>
    public const string RingHash = "ring-hash";

    /// <summary>One instance of every built-in policy.</summary>
    public static IReadOnlyList<ISchedulingPolicy> BuiltIn { get; } =
    [
        new RoundRobinPolicy(),
        new WeightedRoundRobinPolicy(),
        new LeastConnectionsPolicy(),
        new MaglevPolicy(),
        new RingHashPolicy(),
    ];

    /// <summary>The policy called <paramref name="name"/> among <paramref name="policies"/>, case-insensitively.</summary>
    /// <exception cref="ArgumentException">No policy has that name.</exception>
    public static ISchedulingPolicy Find(IEnumerable<ISchedulingPolicy> policies, string name) =>
        policies.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"no scheduling policy is called \"{name}\"", nameof(name));
}
