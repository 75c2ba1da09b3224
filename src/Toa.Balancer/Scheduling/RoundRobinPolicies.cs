// SPDX-License-Identifier: MIT
using Toa.Balancer.Model;

namespace Toa.Balancer.Scheduling;

/// <summary>Each candidate in turn, starting at a random one so that restarted balancers do not move in step.</summary>
internal sealed class RoundRobinPolicy : ISchedulingPolicy
{
    public string Name => SchedulingPolicies.RoundRobin;

    public Backend? Pick(in SchedulingContext context)
    {
        var set = context.Candidates;
        if (set.Count == 0)
            return null;
        var cursor = set.GetOrCreateState(context.Random, static (s, random) => new Cursor(random.Next(s.Count)));
        var next = (uint)Interlocked.Increment(ref cursor.Position);
        return set[(int)(next % (uint)set.Count)];
    }

    private sealed class Cursor(int start)
    {
        public int Position = start;
    }
}

/// <summary>
/// Smooth weighted round robin: every pick adds each weight to its candidate's credit and
/// takes the richest, which then pays the total. Over any run of (sum of weights) picks each
/// candidate is chosen exactly its weight's times, and heavy candidates are spread out rather than bunched.
/// </summary>
internal sealed class WeightedRoundRobinPolicy : ISchedulingPolicy
{
    public string Name => SchedulingPolicies.WeightedRoundRobin;

    public Backend? Pick(in SchedulingContext context)
    {
        var set = context.Candidates;
        if (set.Count == 0)
            return null;
        var credits = set.GetOrCreateState(0, static (s, _) => new Credits(s.Count));
        lock (credits)
        {
            long total = 0;
            var best = 0;
            for (var i = 0; i < set.Count; i++)
            {
                var weight = set.WeightAt(i);
                credits.Values[i] += weight;
                total += weight;
                if (credits.Values[i] > credits.Values[best])
                    best = i;
            }
            credits.Values[best] -= total;
            return set[best];
        }
    }

    private sealed class Credits(int count)
    {
        public readonly long[] Values = new long[count];
    }
}

/// <summary>Fewest open connections per unit of weight; ties broken at random so that a burst spreads out.</summary>
internal sealed class LeastConnectionsPolicy : ISchedulingPolicy
{
    public string Name => SchedulingPolicies.LeastConnections;

    public Backend? Pick(in SchedulingContext context)
    {
        var set = context.Candidates;
        Backend? best = null;
        long bestActive = 0, bestWeight = 1;
        var ties = 0;
        for (var i = 0; i < set.Count; i++)
        {
            long active = set[i].ActiveConnections, weight = set.WeightAt(i);
            // active/weight < bestActive/bestWeight, without division.
            var order = best is null ? -1 : (active * bestWeight).CompareTo(bestActive * weight);
            if (order < 0)
            {
                (best, bestActive, bestWeight, ties) = (set[i], active, weight, 1);
            }
            else if (order == 0 && context.Random.Next(++ties) == 0)
            {
                // Reservoir sampling: each of the tied candidates ends up chosen with equal chance.
                (best, bestActive, bestWeight) = (set[i], active, weight);
            }
        }
        return best;
    }
}
