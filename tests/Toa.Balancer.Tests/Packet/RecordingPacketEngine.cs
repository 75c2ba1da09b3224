// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Balancer.Packet;

namespace Toa.Balancer.Tests.Packet;

/// <summary>
/// Records what the host asks of the packet engine. <see cref="CannotPrepare"/> makes
/// <see cref="Prepare"/> throw it, as an engine without root would, and <see cref="CannotApply"/>
/// <see cref="Apply"/> (nothing recorded), as one refusing an address that is not local would;
/// <see cref="Applying"/> runs inside each <see cref="Apply"/>; <see cref="Counted"/> is what <see cref="Counts"/> answers.
/// </summary>
internal sealed class RecordingPacketEngine : IPacketEngine
{
    private readonly List<IReadOnlyList<PacketListener>> _applied = [];
    private readonly List<PacketEngineSettings> _prepared = [];

    public Exception? CannotPrepare { get; set; }

    public Exception? CannotApply { get; set; }

    public Action? Applying { get; set; }

    public PacketCounts Counted { get; set; } = new NoPacketEngine().Counts();

    public bool Disposed { get; private set; }

    /// <summary>Calls of <see cref="Apply"/> after <see cref="DisposeAsync"/> (there must be none).</summary>
    public int AppliedAfterDispose { get; private set; }

    public IReadOnlyList<PacketEngineSettings> Prepared
    {
        get
        {
            lock (_prepared)
                return [.. _prepared];
        }
    }

    public IReadOnlyList<IReadOnlyList<PacketListener>> Applied
    {
        get
        {
            lock (_applied)
                return [.. _applied];
        }
    }

    /// <summary>The listeners the last <see cref="Apply"/> handed over, or null before the first.</summary>
    public IReadOnlyList<PacketListener>? Last
    {
        get
        {
            lock (_applied)
                return _applied.Count == 0 ? null : _applied[^1];
        }
    }

    public PacketListener? LastOf(string name) => Last?.SingleOrDefault(l => l.Name == name);

    public void Prepare(PacketEngineSettings settings)
    {
        if (CannotPrepare is { } e)
            throw e;
        lock (_prepared)
            _prepared.Add(settings);
    }

    public void Apply(IReadOnlyList<PacketListener> listeners)
    {
        Applying?.Invoke();
        if (CannotApply is { } e)
            throw e;
        lock (_applied)
        {
            if (Disposed)
                AppliedAfterDispose++;
            _applied.Add(listeners);
        }
    }

    public PacketCounts Counts() => Counted;

    public ValueTask DisposeAsync()
    {
        lock (_applied)
            Disposed = true;
        return ValueTask.CompletedTask;
    }

    /// <summary>Which backends a table sends new connections to, by endpoint, with their share of the slots.</summary>
    public static IReadOnlyDictionary<IPEndPoint, int> Slots(PacketListener listener) =>
        listener.Table.GroupBy(i => listener.Backends[i]).ToDictionary(g => g.Key, g => g.Count());
}
