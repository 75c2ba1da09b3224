// SPDX-License-Identifier: MIT
using CsCheck;
using Toa.Balancer.Model;
using Toa.Balancer.Scheduling;

namespace Toa.Balancer.Tests.Scheduling;

public class SchedulingPolicyTests
{
    private static ISchedulingPolicy Policy(string name) => SchedulingPolicies.Find(SchedulingPolicies.BuiltIn, name);

    private static Dictionary<Backend, int> Count(ISchedulingPolicy policy, BackendSet set, int picks, int seed = 1)
    {
        var random = new Random(seed);
        var counts = set.ToDictionary(b => b, _ => 0);
        for (var i = 0; i < picks; i++)
            counts[policy.Pick(new SchedulingContext(TestBackends.Client(i), set, random))!]++;
        return counts;
    }

    [Theory]
    [InlineData(SchedulingPolicies.RoundRobin)]
    [InlineData(SchedulingPolicies.WeightedRoundRobin)]
    [InlineData(SchedulingPolicies.LeastConnections)]
    [InlineData(SchedulingPolicies.Maglev)]
    [InlineData(SchedulingPolicies.RingHash)]
    public void Pick_NoCandidates_ReturnsNull(string name) =>
        Assert.Null(Policy(name).Pick(new SchedulingContext(TestBackends.Client(0), BackendSet.Empty, new Random(1))));

    [Fact]
    public void Find_UnknownName_Throws() =>
        Assert.Throws<ArgumentException>(() => SchedulingPolicies.Find(SchedulingPolicies.BuiltIn, "fastest"));

    [Fact]
    public void Find_NameInOtherCase_FindsPolicy() =>
        Assert.Equal(SchedulingPolicies.Maglev, SchedulingPolicies.Find(SchedulingPolicies.BuiltIn, "MAGLEV").Name);

    [Fact]
    public void RoundRobin_Weights_AreIgnoredAndEachTakesItsTurn()
    {
        var set = TestBackends.Set(5, 1, 1);
        var policy = Policy(SchedulingPolicies.RoundRobin);
        var random = new Random(7);
        var picks = Enumerable.Range(0, 9).Select(i => policy.Pick(new SchedulingContext(TestBackends.Client(i), set, random))!).ToArray();
        for (var i = 3; i < picks.Length; i++)
            Assert.Same(picks[i - 3], picks[i]);
        Assert.Equal(3, picks.Take(3).Distinct().Count());
    }

    [Fact]
    public void WeightedRoundRobin_AnyWeights_ExactShareInEveryCycle()
    {
        // Tolerance 0: over k × (sum of weights) picks each backend is chosen exactly k × weight times.
        Gen.Int[1, 50].Array[1, 12].Sample(weights =>
        {
            var set = TestBackends.Set(weights);
            var counts = Count(Policy(SchedulingPolicies.WeightedRoundRobin), set, 3 * weights.Sum());
            for (var i = 0; i < set.Count; i++)
                Assert.Equal(3 * weights[i], counts[set[i]]);
        }, iter: 200);
    }

    [Fact]
    public void WeightedRoundRobin_HeavyBackend_IsInterleavedNotBunched()
    {
        var set = TestBackends.Set(5, 1, 1);
        var policy = Policy(SchedulingPolicies.WeightedRoundRobin);
        var random = new Random(1);
        var sequence = string.Concat(Enumerable.Range(0, 7)
            .Select(i => (char)('a' + set.ToList().IndexOf(policy.Pick(new SchedulingContext(TestBackends.Client(i), set, random))!))));
        Assert.Equal("aabacaa", sequence);
    }

    [Fact]
    public void LeastConnections_UnequalLoad_PicksFewestPerWeight()
    {
        var set = TestBackends.Set(1, 3, 1);
        for (var i = 0; i < 2; i++)
            set[0].TryAcquire();
        for (var i = 0; i < 3; i++)
            set[1].TryAcquire(); // 3 connections at weight 3: one per unit, less than 2 per unit
        set[2].TryAcquire();
        set[2].TryAcquire();
        var pick = Policy(SchedulingPolicies.LeastConnections).Pick(new SchedulingContext(TestBackends.Client(0), set, new Random(1)));
        Assert.Same(set[1], pick);
    }

    [Fact]
    public void LeastConnections_Ties_SpreadEvenlyWithPinnedRandom()
    {
        var set = TestBackends.Set(1, 1, 1, 1);
        var counts = Count(Policy(SchedulingPolicies.LeastConnections), set, 4000, seed: 42);
        Assert.All(counts.Values, c => Assert.InRange(c, 900, 1100));
        Assert.Equal(counts, Count(Policy(SchedulingPolicies.LeastConnections), set, 4000, seed: 42));
    }

    [Theory]
    [InlineData(SchedulingPolicies.Maglev)]
    [InlineData(SchedulingPolicies.RingHash)]
    public void ConsistentHash_SameClientAddress_SameBackendWhateverThePortOrSet(string name)
    {
        var backends = Enumerable.Range(0, 5).Select(i => TestBackends.Make(i)).ToArray();
        var policy = Policy(name);
        for (var i = 0; i < 100; i++)
        {
            var client = TestBackends.Client(i);
            var first = policy.Pick(new SchedulingContext(client, new BackendSet(backends), new Random(1)));
            var again = policy.Pick(new SchedulingContext(new(client.Address, client.Port + 1), new BackendSet(backends.Reverse()), new Random(2)));
            Assert.Same(first, again);
        }
    }
}
