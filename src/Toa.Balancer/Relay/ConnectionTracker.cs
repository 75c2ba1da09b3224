// SPDX-License-Identifier: MIT
using System.Net;

namespace Toa.Balancer.Relay;

/// <summary>
/// How many connections a host relays, the overall limit, and a way to wait until none is left.
/// The connections themselves live in the handler tables of their event loops, each touched only
/// by its own thread, so relaying one costs two atomic operations here, and a lock only under a
/// per-source limit.
/// </summary>
internal sealed class ConnectionTracker(IReadOnlyList<EventLoop> loops)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, int> _sources = [];
    private TaskCompletionSource? _empty;
    private int _count;

    /// <summary>Most connections at once; 0 means no limit.</summary>
    public int MaxConnections { get; set; }

    /// <summary>Most connections at once from one client address; 0 means no limit.</summary>
    public int MaxConnectionsPerSource { get; set; }

    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// Takes a slot for a new connection from <paramref name="source"/> unless a limit is reached:
    /// null when taken, else the refusal's reason ("limit", "source_limit"). Sources are counted
    /// only under a per-source limit; <paramref name="sourceCounted"/> tells <see cref="Exit"/>.
    /// </summary>
    public string? TryEnter(IPAddress source, out bool sourceCounted)
    {
        sourceCounted = false;
        while (true)
        {
            var count = Volatile.Read(ref _count);
            var max = MaxConnections;
            if (max > 0 && count >= max)
                return "limit";
            if (Interlocked.CompareExchange(ref _count, count + 1, count) == count)
                break;
        }
        var perSource = MaxConnectionsPerSource;
        if (perSource <= 0)
            return null;
        lock (_sources)
        {
            var held = _sources.GetValueOrDefault(source);
            if (held < perSource)
            {
                _sources[source] = held + 1;
                sourceCounted = true;
                return null;
            }
        }
        Exit(source, sourceCounted: false);
        return "source_limit";
    }

    /// <summary>Gives back a slot from <see cref="TryEnter"/>.</summary>
    public void Exit(IPAddress source, bool sourceCounted)
    {
        if (sourceCounted)
        {
            lock (_sources)
            {
                var held = _sources[source];
                if (held > 1)
                    _sources[source] = held - 1;
                else
                    _sources.Remove(source);
            }
        }
        if (Interlocked.Decrement(ref _count) != 0)
            return;
        lock (_gate)
        {
            if (Volatile.Read(ref _count) == 0)
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
            if (Volatile.Read(ref _count) == 0)
                return Task.CompletedTask;
            _empty ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _empty.Task;
        }
    }

    /// <summary>Closes, each on its own loop, soon, the connections that <paramref name="which"/> picks there.</summary>
    public void Close(Func<RelayConnection, bool> which, bool reset)
    {
        foreach (var loop in loops)
        {
            loop.Post(static state =>
            {
                var (loop, which, reset) = ((EventLoop, Func<RelayConnection, bool>, bool))state!;
                foreach (var connection in loop.HandlersOf<RelayConnection>())
                {
                    if (which(connection))
                        connection.Close(reset);
                }
            }, (loop, which, reset));
        }
    }
}
