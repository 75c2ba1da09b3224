// SPDX-License-Identifier: MIT
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Toa.Balancer;

/// <summary>
/// Puts the client's address on a backend connection as a TCP option. The relay calls
/// <see cref="Attach"/> with a socket that is created and bound (to the SNAT source, if any)
/// but not yet connected; the writer itself tells, through <see cref="Counts"/>, which
/// connections carried the option, so the relay does not ask after each one.
/// Only listeners whose TOA is on are passed in. The option is built from the address the
/// balancer accepted, never from the client's own options, which end at the balancer's socket.
/// </summary>
public interface IToaWriter
{
    /// <summary>
    /// Readies the writer for a configuration in which a listener writes TOA, before any of its
    /// connections: starts what writing needs if it is not running yet (a balancer that started
    /// with TOA off everywhere gets its writer at the reload that turns it on). Called on every
    /// such configuration; cheap once started.
    /// </summary>
    /// <param name="connections">Backend connections the writer keeps state for at once (the configuration's <c>toaConnections</c>), read when it starts.</param>
    /// <exception cref="Exception">The writer cannot start; the host refuses that configuration rather than relay without TOA.</exception>
    void Prepare(int connections)
    {
    }

    /// <summary>
    /// Arranges for <paramref name="client"/> to travel in the connection's TOA, and turns
    /// TCP_NODELAY on as the relay does for every backend socket (the kernel-side writer passes
    /// the option in that very call). Does not throw: a socket the writer cannot prepare is
    /// logged and counted as failed for <paramref name="listener"/>.
    /// </summary>
    /// <param name="backend">The backend socket, bound, not connected.</param>
    /// <param name="client">The real client, IPv4-mapped addresses already unwrapped.</param>
    /// <param name="toa">The listener's settings; <see cref="ToaSettings.Enabled"/> is true.</param>
    /// <param name="listener">The listener's name, under which the outcome is counted.</param>
    void Attach(Socket backend, IPEndPoint client, ToaSettings toa, string listener);

    /// <summary>Per listener that attached so far: its connections' outcomes since the writer started.</summary>
    IReadOnlyDictionary<string, ToaCounts> Counts();
}

/// <summary>Backend connections whose TOA went out, and those that went without it.</summary>
public readonly record struct ToaCounts(long Written, long Failed);

/// <summary>Writes nothing and says so (each connection counted as failed): for running without the kernel-side writer.</summary>
public sealed class NoToaWriter : IToaWriter
{
    private readonly ConcurrentDictionary<string, StrongBox<long>> _failed = new();

    /// <inheritdoc />
    public void Attach(Socket backend, IPEndPoint client, ToaSettings toa, string listener)
    {
        backend.NoDelay = true;
        Interlocked.Increment(ref _failed.GetOrAdd(listener, static _ => new StrongBox<long>()).Value);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, ToaCounts> Counts() =>
        _failed.ToDictionary(p => p.Key, p => new ToaCounts(0, Interlocked.Read(ref p.Value.Value)));
}
