// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Toa.Bpf;
using Toa.Sockets;
using Toa.Wire;

namespace Toa.Receiver;

/// <summary>What the receiver made of a connection's packet (enum toa_trace_outcome).</summary>
public enum TraceOutcome
{
    /// <summary>The TOA was taken: the connection's client from now on.</summary>
    Taken = 1,
    /// <summary>A SYN's TOA, kept until the handshake completes (then taken, or not).</summary>
    Parked = 2,
    /// <summary>No TOA (after the handshake ACK: the receiver waits for the first data).</summary>
    Absent = 3,
    /// <summary>A broken option or a second TOA: nothing was used.</summary>
    Malformed = 4,
    /// <summary>A TOA from a peer outside the trust list: ignored.</summary>
    Untrusted = 5,
    /// <summary>A TOA in a layout the receiver was not loaded to honour (<c>toa load --formats</c>).</summary>
    Unhonoured = 6,
    /// <summary>A TOA to a socket in a network namespace the receiver does not honour (<c>toa load --netns</c>): ignored.</summary>
    ForeignNetns = 7,
}

/// <summary>One trace event: a packet of a connection the receiver examined, and what it concluded.</summary>
/// <param name="Time">When the receiver examined the packet.</param>
/// <param name="Local">The connection's local address.</param>
/// <param name="Peer">Its peer as the kernel sees it: the SNAT or load-balancer address.</param>
/// <param name="Packet">The packet the event is about: the SYN, the handshake ACK or the first data.</param>
/// <param name="Outcome">What the receiver made of it.</param>
/// <param name="Layout">The TOA's layout, for outcomes that read one (taken, parked, untrusted, unhonoured).</param>
/// <param name="Client">The client the TOA claims (the peer's port for layouts without one).</param>
public sealed record TraceEvent(DateTimeOffset Time, IPEndPoint Local, IPEndPoint Peer, ToaSource Packet, TraceOutcome Outcome,
    ToaLayout? Layout, IPEndPoint? Client)
{
    internal static unsafe TraceEvent From(ReadOnlySpan<byte> record, DateTimeOffset bootWall)
    {
        var e = MemoryMarshal.Read<ReceiverAbi.TraceEvent>(record);
        var outcome = (TraceOutcome)e.Outcome;
        var local = new IPEndPoint(ReceiverAbi.Address(new ReadOnlySpan<byte>(e.Local, 16)), ReceiverAbi.Port(e.LocalPort));
        var peer = new IPEndPoint(ReceiverAbi.Address(new ReadOnlySpan<byte>(e.Remote, 16)), ReceiverAbi.Port(e.RemotePort));
        ToaLayout? layout = null;
        IPEndPoint? client = null;
        if (outcome is not (TraceOutcome.Absent or TraceOutcome.Malformed))
        {
            var toa = (ToaLayout)e.Toa.Layout;
            var address = ReceiverAbi.Address(new ReadOnlySpan<byte>(e.Toa.Client, 16), toa.Family() == System.Net.Sockets.AddressFamily.InterNetwork);
            layout = toa;
            client = new IPEndPoint(address, toa.HasPort() ? ReceiverAbi.Port(e.Toa.Port) : peer.Port);
        }
        return new TraceEvent(bootWall.AddTicks((long)(e.TimeNs / 100)), local, peer, (ToaSource)e.Packet, outcome, layout, client);
    }
}

/// <summary>
/// The receiver's trace: a switch in pinned global data that the programs check
/// (off, they do nothing more), and a ring buffer of <see cref="TraceEvent"/>s.
/// The switch is the receiver's state, like its pins: it stays as set after the
/// command that set it, until the receiver is unloaded.
/// </summary>
public static class ReceiverTrace
{
    /// <summary>Whether the receiver at <paramref name="pinDirectory"/> is tracing (false for one loaded without tracing).</summary>
    public static bool IsEnabled(string pinDirectory) =>
        File.Exists(Path.Join(pinDirectory, ReceiverAbi.Pins.Trace)) && Read(pinDirectory).Enabled != 0;

    /// <summary>How many events the receiver dropped because nobody read them fast enough (the buffer was full).</summary>
    public static ulong Lost(string pinDirectory) => Read(pinDirectory).Lost;

    /// <summary>Switches tracing on or off; returns whether it was on.</summary>
    public static bool SetEnabled(string pinDirectory, bool enabled)
    {
        using var map = OpenSwitch(pinDirectory, readOnly: false);
        map.TryLookup(0, out ReceiverAbi.TraceState state);
        var was = state.Enabled != 0;
        // The programs only add to `lost`: one lost in between is the worst this read-modify-write does.
        state.Enabled = enabled ? 1u : 0u;
        map.Update(0, state);
        return was;
    }

    /// <summary>
    /// Opens the events for reading. One reader at a time: the ring buffer has one read
    /// position, so a second reader would take events from the first.
    /// </summary>
    public static TraceReader OpenReader(string pinDirectory, Action<TraceEvent> onEvent)
    {
        RequireTrace(pinDirectory);
        var lockHandle = BpfRingBuffer.LockReader(pinDirectory)
            ?? throw new InvalidOperationException($"another process is reading the trace of the receiver at {pinDirectory}: one reader at a time");
        try
        {
            return new TraceReader(pinDirectory, lockHandle, onEvent);
        }
        catch
        {
            lockHandle.Dispose();
            throw;
        }
    }

    private static ReceiverAbi.TraceState Read(string pinDirectory)
    {
        using var map = OpenSwitch(pinDirectory, readOnly: true);
        map.TryLookup(0, out ReceiverAbi.TraceState state);
        return state;
    }

    private static BpfMap OpenSwitch(string pinDirectory, bool readOnly)
    {
        RequireTrace(pinDirectory);
        return BpfMap.OpenPinned(Path.Join(pinDirectory, ReceiverAbi.Pins.Trace), readOnly);
    }

    private static void RequireTrace(string pinDirectory)
    {
        if (!ToaReceiver.IsLoaded(pinDirectory))
            throw new InvalidOperationException($"no receiver is loaded at {pinDirectory} (toa load)");
        if (!File.Exists(Path.Join(pinDirectory, ReceiverAbi.Pins.Trace)))
            throw new InvalidOperationException($"the receiver at {pinDirectory} was loaded by a version without tracing: toa load --force replaces it");
    }
}

/// <summary>The reading end of the receiver's trace; disposing lets another reader in.</summary>
public sealed class TraceReader : IDisposable
{
    private readonly BpfMap _events;
    private readonly BpfRingBuffer _ring;
    private readonly SafeFileHandle _lock;

    internal TraceReader(string pinDirectory, SafeFileHandle lockHandle, Action<TraceEvent> onEvent)
    {
        // Event times are CLOCK_MONOTONIC, as the stopwatch reads it: the wall clock of its zero, once.
        var monotonicNow = TimeSpan.FromSeconds(Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency);
        var zero = DateTimeOffset.Now - monotonicNow;
        _lock = lockHandle;
        _events = BpfMap.OpenPinned(Path.Join(pinDirectory, ReceiverAbi.Pins.TraceEvents));
        try
        {
            _ring = new BpfRingBuffer(_events, record => onEvent(TraceEvent.From(record, zero)));
        }
        catch
        {
            _events.Dispose();
            throw;
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for events and hands them over; returns how many.</summary>
    public int Poll(TimeSpan timeout) => _ring.Poll(timeout);

    /// <summary>Hands over the events waiting, without waiting for more; returns how many.</summary>
    public int Drain() => _ring.Consume();

    /// <inheritdoc />
    public void Dispose()
    {
        _ring.Dispose();
        _events.Dispose();
        _lock.Dispose();
    }
}
