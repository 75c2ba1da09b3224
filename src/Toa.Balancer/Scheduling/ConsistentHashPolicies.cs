// SPDX-License-Identifier: MIT
using Toa.Balancer.Model;

namespace Toa.Balancer.Scheduling;

/// <summary>Maglev consistent hashing of the client address; the table is built once per candidate set.</summary>
internal sealed class MaglevPolicy : ISchedulingPolicy
{
    public string Name => SchedulingPolicies.Maglev;

    public Backend? Pick(in SchedulingContext context)
    {
        var set = context.Candidates;
        if (set.Count == 0)
            return null;
        var table = set.GetOrCreateState(0, static (s, _) => new MaglevTable(Keys(s), Weights(s)));
        return set[table.Lookup(StableHash.Hash(context.Client.Address))];
    }

    internal static string[] Keys(BackendSet set) => set.Select(b => b.Key).ToArray();

    internal static int[] Weights(BackendSet set) => Enumerable.Range(0, set.Count).Select(set.WeightAt).ToArray();
}

/// <summary>Ring consistent hashing of the client address; the ring is built once per candidate set.</summary>
internal sealed class RingHashPolicy : ISchedulingPolicy
{
    public string Name => SchedulingPolicies.RingHash;

    public Backend? Pick(in SchedulingContext context)
    {
        var set = context.Candidates;
        if (set.Count == 0)
            return null;
        var ring = set.GetOrCreateState(0, static (s, _) => new HashRing(MaglevPolicy.Keys(s), MaglevPolicy.Weights(s)));
        return set[ring.Lookup(StableHash.Hash(context.Client.Address))];
    }
}

/// <summary>
/// A Maglev lookup table (Eisenbud et al., NSDI 2016): each backend walks its own permutation
/// of the slots, taking the next free one in turn until every slot is taken. Weights: in each
/// round a backend earns its weight in credit and takes a slot per (largest weight) of credit,
/// so slot counts follow the weights. Removing one of N backends moves about 1/N of the slots.
/// Backends take turns in the order of their keys, so the table does not depend on the order
/// the configuration lists them in, and balancers with the same pool agree.
/// </summary>
internal sealed class MaglevTable
{
    /// <summary>A prime well above 100 × the backends a pool is expected to have, as the paper advises.</summary>
    public const int DefaultSize = 65537;

    private readonly int[] _slots;

    public MaglevTable(IReadOnlyList<string> keys, IReadOnlyList<int> weights, int size = DefaultSize)
    {
        var n = keys.Count;
        _slots = new int[n == 0 ? 0 : size];
        if (n == 0)
            return;
        Array.Fill(_slots, -1);
        var offset = new long[n];
        var skip = new long[n];
        var next = new long[n];
        var credit = new long[n];
        for (var i = 0; i < n; i++)
        {
            var hash = StableHash.Hash(keys[i]);
            offset[i] = (long)(StableHash.Derive(hash, 0) % (ulong)size);
            skip[i] = (long)(StableHash.Derive(hash, 1) % (ulong)(size - 1)) + 1;
        }
        var order = Enumerable.Range(0, n).OrderBy(i => keys[i], StringComparer.Ordinal).ToArray();
        long maxWeight = weights.Max();
        var filled = 0;
        while (true)
        {
            foreach (var i in order)
            {
                credit[i] += weights[i];
                if (credit[i] < maxWeight)
                    continue;
                credit[i] -= maxWeight;
                long slot;
                do
                {
                    slot = (offset[i] + next[i] * skip[i]) % size;
                    next[i]++;
                }
                while (_slots[slot] >= 0);
                _slots[slot] = i;
                if (++filled == size)
                    return;
            }
        }
    }

    /// <summary>Every slot's backend index (tests check it has no holes).</summary>
    public ReadOnlySpan<int> Slots => _slots;

    public int Lookup(ulong hash) => _slots[(int)(hash % (ulong)_slots.Length)];
}

/// <summary>
/// A hash ring: each backend owns points in proportion to its weight, and a hash belongs to
/// the first point at or after it. The lightest backend gets <see cref="MinPoints"/> points, so
/// its share is within a few percent of its weight's; the ring stops growing at
/// <see cref="MaxTotalPoints"/>, where very uneven weights (1 beside 65535) get rougher shares.
/// </summary>
internal sealed class HashRing
{
    public const int MinPoints = 256;
    public const int MaxTotalPoints = 1 << 18;

    private readonly ulong[] _points;
    private readonly int[] _owners;

    public HashRing(IReadOnlyList<string> keys, IReadOnlyList<int> weights)
    {
        var points = new List<(ulong Point, int Owner)>();
        if (keys.Count > 0)
        {
            double minWeight = weights.Min();
            var scale = Math.Min(MinPoints / minWeight, (double)MaxTotalPoints / weights.Sum(w => (long)w));
            for (var i = 0; i < keys.Count; i++)
            {
                var count = Math.Max(1, (int)(weights[i] * scale));
                var hash = StableHash.Hash(keys[i]);
                for (var r = 0; r < count; r++)
                    points.Add((StableHash.Derive(hash, (ulong)r), i));
            }
        }
        points.Sort();
        _points = points.Select(p => p.Point).ToArray();
        _owners = points.Select(p => p.Owner).ToArray();
    }

    /// <summary>Each backend's share of the hash space (tests compare it with the weights).</summary>
    public double[] Shares()
    {
        var shares = new double[_owners.Length == 0 ? 0 : _owners.Max() + 1];
        for (var i = 0; i < _points.Length; i++)
        {
            // Point i owns the arc from the previous point (exclusive) up to itself.
            var arc = i == 0 ? _points[0] + (ulong.MaxValue - _points[^1]) : _points[i] - _points[i - 1];
            shares[_owners[i]] += arc / (double)ulong.MaxValue;
        }
        return shares;
    }

    public int Lookup(ulong hash)
    {
        var at = Array.BinarySearch(_points, hash);
        if (at < 0)
            at = ~at;
        return _owners[at == _points.Length ? 0 : at];
    }
}
