// SPDX-License-Identifier: MIT
using System.Collections;

namespace Toa.Balancer.Model;

/// <summary>
/// The backends of one pool that may take new connections, frozen at one moment. A new set
/// replaces it whenever a backend's availability or weight changes, so whatever a policy
/// derives from a set (a Maglev table, a ring) can be cached on it with <see cref="GetOrCreateState{TState, TArg}"/>.
/// </summary>
public sealed class BackendSet : IReadOnlyList<Backend>
{
    private readonly Backend[] _backends;
    private readonly int[] _weights;
    private object? _state;

    /// <summary>Freezes <paramref name="backends"/> (in pool order) with their current weights.</summary>
    public BackendSet(IEnumerable<Backend> backends)
    {
        _backends = backends.ToArray();
        _weights = Array.ConvertAll(_backends, b => b.Weight);
    }

    /// <summary>An empty set.</summary>
    public static BackendSet Empty { get; } = new([]);

    /// <inheritdoc />
    public Backend this[int index] => _backends[index];

    /// <inheritdoc />
    public int Count => _backends.Length;

    /// <summary>The weight backend <paramref name="index"/> had when the set was made.</summary>
    public int WeightAt(int index) => _weights[index];

    /// <summary>
    /// The state a policy keeps for this set, made once by <paramref name="create"/>. A set
    /// belongs to one pool and a pool has one policy, so one slot is enough.
    /// </summary>
    public TState GetOrCreateState<TState, TArg>(TArg arg, Func<BackendSet, TArg, TState> create)
        where TState : class
    {
        if (Volatile.Read(ref _state) is TState state)
            return state;
        var made = create(this, arg);
        return Interlocked.CompareExchange(ref _state, made, null) as TState ?? made;
    }

    /// <inheritdoc />
    public IEnumerator<Backend> GetEnumerator() => ((IEnumerable<Backend>)_backends).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
