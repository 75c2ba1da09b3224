// SPDX-License-Identifier: MIT
using System.Collections.Concurrent;

namespace Toa.Balancer.Relay;

/// <summary>Every relayed connection of a host, the overall limit, and a way to wait until none is left.</summary>
internal sealed class ConnectionTracker
{
    private readonly ConcurrentDictionary<RelayConnection, byte> _connections = new();
    private readonly Lock _gate = new();
    private TaskCompletionSource? _empty;
    private int _count;

    /// <summary>Most connections at once; 0 means no limit.</summary>
    public int MaxConnections { get; set; }

    public int Count => Volatile.Read(ref _count);

    public ICollection<RelayConnection> Connections => _connections.Keys;

    /// <summary>Takes a slot for a new connection unless the limit is reached.</summary>
    public bool TryEnter()
    {
        lock (_gate)
        {
            var max = MaxConnections;
            if (max > 0 && _count >= max)
                return false;
            _count++;
            return true;
        }
    }

    public void Add(RelayConnection connection) => _connections.TryAdd(connection, 0);

    /// <summary>Gives back a slot from <see cref="TryEnter"/>, forgetting <paramref name="connection"/> if it was added.</summary>
    public void Exit(RelayConnection? connection)
    {
        if (connection is not null)
            _connections.TryRemove(connection, out _);
        lock (_gate)
        {
            if (--_count == 0)
            {
                _empty?.TrySetResult();
                _empty = null;
            }
        }
    }

    /// <summary>Completes when no connection is left.</summary>
    public Task WhenEmptyAsync()
    {
        lock (_gate)
        {
            if (_count == 0)
                return Task.CompletedTask;
            _empty ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _empty.Task;
        }
    }
}
