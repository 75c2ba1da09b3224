// SPDX-License-Identifier: MIT
using System.Net;

namespace Toa.Balancer.Packet;

/// <summary>
/// Balances listeners whose <c>engine</c> is <c>"packet"</c> at the packet level (FULLNAT): the
/// kernel rewrites each client connection toward a backend and back, and the balancer process
/// holds no socket for it. The host keeps what is the same for both engines (configuration,
/// health checks, drain, scheduling decisions) and hands the engine the desired state of every
/// packet listener whenever it changes; the engine owns the datapath.
/// </summary>
public interface IPacketEngine : IAsyncDisposable
{
    /// <summary>
    /// Readies the engine (loads and attaches its programs, or takes over those a previous run
    /// left, with their connections) before the first configuration that has a packet listener.
    /// Called on every such configuration; cheap once started.
    /// </summary>
    /// <exception cref="Exception">The engine cannot run here; the host refuses that configuration.</exception>
    void Prepare(PacketEngineSettings settings);

    /// <summary>
    /// Makes <paramref name="listeners"/> the whole set of packet listeners: new ones start, changed
    /// ones change (a new table only steers new connections), missing ones stop taking new
    /// connections. Established connections keep their backend whatever changes.
    /// </summary>
    /// <exception cref="Exception">A listener cannot run (for example its address is not local); nothing changed.</exception>
    void Apply(IReadOnlyList<PacketListener> listeners);

    /// <summary>Counters per listener and backend since the engine started (or since the state it took over began).</summary>
    PacketCounts Counts();
}

/// <summary>Engine-wide settings, from the configuration's <c>packet</c> section.</summary>
/// <param name="MaxConnections">Connections the engine tracks at most; a new one beyond is refused and counted.</param>
/// <param name="PortMin">The first local port the engine owns for SNAT.</param>
/// <param name="PortMax">The last one.</param>
public sealed record PacketEngineSettings(int MaxConnections, int PortMin, int PortMax);

/// <summary>A packet listener's desired state.</summary>
/// <param name="Name">The listener's name (counters are reported under it).</param>
/// <param name="EndPoint">The VIP: a local address of the balancer host and a port.</param>
/// <param name="Toa">What to write toward the backends.</param>
/// <param name="Snat4">The source toward IPv4 backends; null: the one the route to the backend gives.</param>
/// <param name="Snat6">The same toward IPv6 backends.</param>
/// <param name="Interfaces">The interfaces to attach to; null: those that carry the address and the routes to the backends.</param>
/// <param name="IdleTimeout">An established connection idle this long is forgotten.</param>
/// <param name="Backends">Every backend of the pool, those draining included (their connections go on).</param>
/// <param name="Table">
/// <see cref="PacketListener.TableSize"/> slots, each an index into <paramref name="Backends"/> (Maglev over
/// the backends that take new connections), or empty when none does: new connections are then refused.
/// </param>
public sealed record PacketListener(
    string Name,
    IPEndPoint EndPoint,
    ToaSettings Toa,
    IPAddress? Snat4,
    IPAddress? Snat6,
    IReadOnlyList<string>? Interfaces,
    TimeSpan IdleTimeout,
    IReadOnlyList<IPEndPoint> Backends,
    IReadOnlyList<int> Table)
{
    /// <summary>Slots in a listener's Maglev table (a prime; FN_TABLE_SIZE in bpf/fullnat.h).</summary>
    public const int TableSize = 16381;
}

/// <summary>What the engine counted, per listener name and per listener/backend.</summary>
public sealed record PacketCounts(
    IReadOnlyDictionary<string, PacketListenerCounts> Listeners,
    IReadOnlyDictionary<(string Listener, IPEndPoint Backend), PacketBackendCounts> Backends);

/// <summary>A listener's counters (fn_counter in bpf/fullnat.h) and the connections it tracks now.</summary>
public sealed record PacketListenerCounts(
    long Connections,
    long Active,
    long PacketsIn,
    long PacketsOut,
    long BytesIn,
    long BytesOut,
    long ToaWritten,
    long ToaNoRoom,
    long ToaRemoved,
    long TableFull,
    long NoBackend,
    long NoPort,
    long NoRoute,
    long MssClamped,
    long PortsReused);

/// <summary>A backend's counters: connections sent to it, the bytes each way, and those tracked now.</summary>
public sealed record PacketBackendCounts(long Connections, long Active, long BytesIn, long BytesOut);

/// <summary>The engine when none is available (the library alone, or tests): every packet listener is refused.</summary>
public sealed class NoPacketEngine : IPacketEngine
{
    /// <inheritdoc />
    public void Prepare(PacketEngineSettings settings) =>
        throw new PlatformNotSupportedException("the packet engine is not available in this process");

    /// <inheritdoc />
    public void Apply(IReadOnlyList<PacketListener> listeners)
    {
        if (listeners.Count > 0)
            throw new PlatformNotSupportedException("the packet engine is not available in this process");
    }

    /// <inheritdoc />
    public PacketCounts Counts() => new(new Dictionary<string, PacketListenerCounts>(), new Dictionary<(string, IPEndPoint), PacketBackendCounts>());

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
