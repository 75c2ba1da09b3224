// SPDX-License-Identifier: MIT
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toa.Balancer.Configuration;
using Toa.Bpf;
using Toa.Sender;

namespace Toa.Balancer.Sender;

/// <summary>
/// The balancer's TOA writer: the eBPF sender (<see cref="ToaSender"/>) behind <see cref="IToaWriter"/>.
/// Each backend connection gets one option, built from the address the balancer accepted, in the
/// handshake ACK and the first data segment (and the SYN when the listener says <c>toaOnSyn</c>).
/// The program counts each connection's outcome in its listener's slot as the handshake settles;
/// <see cref="Counts"/> reads the totals, and once a second the writer logs a warning for the
/// connections of a listener that went without the option since the last look, naming the last,
/// and for those whose state stayed in socket storage because the sender's connections map
/// (<c>toaConnections</c>) was full.
/// </summary>
/// <remarks>
/// Starting it moves the whole process into a cgroup of its own (programs see sockets by the
/// cgroup that created them), so backend sockets created from then on carry the option. It starts
/// at <see cref="Prepare"/>, which the host calls before a configuration with a TOA listener runs:
/// at start, or at the reload that first turns TOA on. Dispose it after the host stopped.
/// </remarks>
public sealed partial class SenderToaWriter : IToaWriter, IDisposable
{
    private static readonly TimeSpan s_warnEvery = TimeSpan.FromSeconds(1);

    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Slot> _slots = new();
    private readonly Timer _warnings;
    private readonly Lock _warning = new();
    private volatile ToaSender? _sender; // set once, under _warning, by Prepare
    private int _slotsTaken;
    private int _keptWarned; // the last toaConnections a reload asked for and was told is not applied
    private bool _disposed;

    private SenderToaWriter(ILogger logger)
    {
        _logger = logger;
        _warnings = new Timer(_ => WarnOfFailures(), null, s_warnEvery, s_warnEvery);
    }

    /// <summary>A writer that loads nothing until <see cref="Prepare"/>: for a balancer that may need TOA only after a reload.</summary>
    public static SenderToaWriter Deferred(ILoggerFactory? loggerFactory = null) =>
        new((loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Toa.Balancer.Sender"));

    /// <summary>Loads and attaches the sender and moves this process into its cgroup. Needs root.</summary>
    /// <exception cref="BpfException">The program cannot be loaded or attached.</exception>
    public static SenderToaWriter Start(ILoggerFactory? loggerFactory = null, int connections = ToaSender.DefaultConnections)
    {
        var writer = Deferred(loggerFactory);
        try
        {
            writer.Prepare(connections);
            return writer;
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads and attaches the sender and moves this process into its cgroup, unless done already. Needs root.
    /// <paramref name="connections"/> sizes its connections map when it starts; a running sender keeps its own
    /// (the map's buckets are fixed at load) and logs once that a different one is not applied.
    /// </summary>
    /// <exception cref="BpfException">The program cannot be loaded or attached.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void Prepare(int connections = ToaSender.DefaultConnections)
    {
        lock (_warning)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_sender is not null)
            {
                if (connections != _sender.ConnectionCapacity && connections != _keptWarned)
                {
                    LogConnectionsKept(_logger, connections, _sender.ConnectionCapacity);
                    _keptWarned = connections;
                }
                return;
            }
            _sender = ToaSender.Start(_logger, connections);
            LogStarted(_logger, _sender.Cgroup.Path);
        }
    }

    /// <summary>
    /// Whether any proxy listener of <paramref name="config"/> writes a TOA (and so needs this writer);
    /// the packet engine writes its listeners' TOA itself.
    /// </summary>
    public static bool IsNeededFor(BalancerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return (config.Listeners ?? []).Any(l => !EngineNames.IsPacket(l) && ToaSettings.TryParse(l.Toa, out var format) && format is not null);
    }

    /// <summary>The cgroup this process runs in while the writer is active; null before <see cref="Prepare"/>.</summary>
    public string? CgroupPath => _sender?.Cgroup.Path;

    /// <inheritdoc />
    public void Attach(Socket backend, IPEndPoint client, ToaSettings toa, string listener)
    {
        var slot = SlotOf(listener);
        try
        {
            // The host prepares the writer before any TOA listener runs; a missing sender is a failed attach.
            var sender = _sender ?? throw new ObjectDisposedException(nameof(SenderToaWriter), "the TOA writer was not started");
            sender.Attach(backend, [toa.AddressFor(client)], PlacementFor(toa), slot.Index, noDelay: true);
        }
        catch (Exception e) when (e is SocketException or BpfException or ObjectDisposedException or ArgumentException)
        {
            backend.NoDelay = true;
            Interlocked.Increment(ref slot.AttachFailed);
            LogAttachFailed(_logger, e, listener, client);
        }
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, ToaCounts> Counts() =>
        _slots.ToDictionary(p => p.Key, p =>
        {
            var counts = _sender?.Counts(p.Value.Index) ?? default;
            return new ToaCounts(counts.Written, counts.Failed + Interlocked.Read(ref p.Value.AttachFailed));
        });

    /// <summary>Warns of what went without the option since the last look, moves the process back and removes the sender.</summary>
    public void Dispose()
    {
        lock (_warning)
        {
            if (_disposed)
                return;
            WarnOfFailures();
            _disposed = true;
        }
        _warnings.Dispose();
        _sender?.Dispose();
    }

    /// <summary>Where the option goes: the handshake ACK and first data, and the SYN on request.</summary>
    internal static ToaPlacement PlacementFor(ToaSettings toa) =>
        toa.OnSyn ? ToaPlacement.Default | ToaPlacement.Syn : ToaPlacement.Default;

    /// <summary>
    /// A listener's slot, taken on its first connection. Names past the program's slots (listeners
    /// added and renamed by reloads for long) share the last one, and so their counts.
    /// </summary>
    private Slot SlotOf(string listener) =>
        _slots.TryGetValue(listener, out var slot) ? slot
            : _slots.GetOrAdd(listener, _ => new Slot(Math.Min(Interlocked.Increment(ref _slotsTaken), _sender?.CounterSlots ?? 1) - 1));

    private void WarnOfFailures()
    {
        lock (_warning)
        {
            // A tick that raced Dispose finds the maps gone; before Prepare there are none.
            if (_disposed || _sender is null)
                return;
            foreach (var (listener, slot) in _slots)
            {
                var counts = _sender.Counts(slot.Index);
                if (counts.InStorage != slot.WarnedInStorage)
                {
                    LogConnectionsFull(_logger, counts.InStorage - slot.WarnedInStorage, listener, _sender.ConnectionCapacity);
                    slot.WarnedInStorage = counts.InStorage;
                }
                var failed = counts.Failed;
                if (failed == slot.Warned)
                    continue;
                var last = _sender.LastFailure(slot.Index);
                LogNotWritten(_logger, failed - slot.Warned, listener,
                    last is null ? "unknown" : $"{last.Local} -> {last.Remote}", last?.Reason ?? "not recorded yet");
                slot.Warned = failed;
            }
        }
    }

    private sealed class Slot(int index)
    {
        public readonly int Index = index;
        public long AttachFailed;
        public long Warned;
        public long WarnedInStorage;
    }

    [LoggerMessage(EventId = 602, EventName = "ToaWriterStarted", Level = LogLevel.Information,
        Message = "TOA writer attached; this process now runs in cgroup {Cgroup}")]
    private static partial void LogStarted(ILogger logger, string cgroup);

    [LoggerMessage(EventId = 600, EventName = "ToaNotWritten", Level = LogLevel.Warning,
        Message = "Listener {Listener}: {Count} backend connection(s) went without the TOA, so their backends see the balancer's address; the last, {Connection}: {Reason}")]
    private static partial void LogNotWritten(ILogger logger, long count, string listener, string connection, string reason);

    [LoggerMessage(EventId = 603, EventName = "ToaConnectionsFull", Level = LogLevel.Warning,
        Message = "Listener {Listener}: {Count} backend connection(s) kept the sender's state in socket storage (about 400 bytes each instead of 128): its connections map (toaConnections: {Capacity}) was full")]
    private static partial void LogConnectionsFull(ILogger logger, long count, string listener, int capacity);

    [LoggerMessage(EventId = 604, EventName = "ToaConnectionsKept", Level = LogLevel.Warning,
        Message = "toaConnections {Asked} applies when the TOA writer starts; it runs with {Capacity} until the balancer restarts")]
    private static partial void LogConnectionsKept(ILogger logger, int asked, int capacity);

    [LoggerMessage(EventId = 601, EventName = "ToaAttachFailed", Level = LogLevel.Warning,
        Message = "Listener {Listener}: the TOA could not be attached for client {Client}; the connection goes on without it")]
    private static partial void LogAttachFailed(ILogger logger, Exception exception, string listener, IPEndPoint client);
}
