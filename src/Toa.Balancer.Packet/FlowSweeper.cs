// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Balancer.Packet;

/// <summary>What one sweep left: the connections tracked per listener id and backend index.</summary>
internal sealed record SweepResult(int Deleted, IReadOnlyDictionary<uint, long> ActivePerListener, IReadOnlyDictionary<uint, long> ActivePerBackend);

/// <summary>
/// Forgets connections: the datapath only records state and last_seen, user space applies the
/// timeouts. A connection is its two fn_flows entries; the newer last_seen of the two counts
/// (the client's side may be idle while the backend sends), and both go together.
/// </summary>
internal static class FlowSweeper
{
    /// <summary>How often the engine sweeps, at most.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When to sweep next after a sweep that took <paramref name="took"/>: every <see cref="Interval"/>,
    /// or less often when the table is so large that a sweep would take more than a tenth of a CPU
    /// (0.3 to 0.5 s of CPU for 100,000 connections here). The timeouts are
    /// lower bounds; a connection is forgotten that much later at worst.
    /// </summary>
    public static TimeSpan NextSweep(TimeSpan took) => took * 10 > Interval ? took * 10 : Interval;

    /// <summary>A SYN the backend has not answered: clients retransmit after 1, 2 and 4 s, so 10 s of silence means given up.</summary>
    public static readonly TimeSpan Syn = TimeSpan.FromSeconds(10);

    /// <summary>One side closed: the other may still send for a while, as the kernel's own tcp_fin_timeout (60 s) allows.</summary>
    public static readonly TimeSpan Fin = TimeSpan.FromSeconds(60);

    /// <summary>Both sides closed: only the last ACKs and retransmitted FINs are left to pass.</summary>
    public static readonly TimeSpan Closing = TimeSpan.FromSeconds(10);

    /// <summary>Reset: nothing more is expected beyond segments already in flight.</summary>
    public static readonly TimeSpan Closed = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Deletes the connections idle beyond their state's timeout (established: <paramref name="idleTimeout"/>
    /// of their listener id) and counts the rest. A backend-side entry whose client-side entry is gone
    /// (the datapath makes it first, to claim the port) is deleted once idle beyond <see cref="Syn"/>.
    /// The datapath may hand an ended connection's keys to a new connection while the walk runs (its
    /// port taken over, its client's tuple opened again): such a connection's client-side entry is read
    /// again before it goes, and its backend-side entry goes only when the client-side one was still there.
    /// </summary>
    public static SweepResult Sweep(IFullnatDatapath datapath, Func<uint, TimeSpan> idleTimeout)
    {
        var now = datapath.Now();
        var forward = new List<(PacketAbi.Flow Key, PacketAbi.Flow Reverse, PacketAbi.Conn Conn)>();
        var replies = new Dictionary<PacketAbi.Flow, ulong>(FlowComparer.Instance);
        foreach (var (key, conn) in datapath.Flows())
        {
            if ((conn.Flags & PacketAbi.ConnForward) != 0)
                forward.Add((key, AbiAddresses.Reverse(conn.Rewrite), conn));
            else
                replies[key] = conn.LastSeen;
        }

        var clientSides = new List<PacketAbi.Flow>();
        var backendSides = new List<PacketAbi.Flow>();
        var alone = new List<PacketAbi.Flow>();
        var perListener = new Dictionary<uint, long>();
        var perBackend = new Dictionary<uint, long>();
        foreach (var (key, reverse, conn) in forward)
        {
            var lastSeen = conn.LastSeen;
            if (replies.Remove(reverse, out var replySeen))
                lastSeen = Math.Max(lastSeen, replySeen);
            var timeout = conn.State switch
            {
                PacketAbi.State.Syn => Syn,
                PacketAbi.State.Established => idleTimeout(conn.Listener),
                PacketAbi.State.Fin => Fin,
                PacketAbi.State.Closing => Closing,
                _ => Closed,
            };
            if (Idle(now, lastSeen) > timeout)
            {
                // Given to a new connection since it was read: that one's now, counted by the next sweep.
                if (conn.State >= PacketAbi.State.Closing && !(datapath.TryFlow(key, out var current) && current.LastSeen == conn.LastSeen))
                    continue;
                clientSides.Add(key);
                backendSides.Add(reverse);
                continue;
            }
            perListener[conn.Listener] = perListener.GetValueOrDefault(conn.Listener) + 1;
            perBackend[conn.Backend] = perBackend.GetValueOrDefault(conn.Backend) + 1;
        }
        foreach (var (key, lastSeen) in replies)
            if (Idle(now, lastSeen) > Syn)
                alone.Add(key);

        // The client side first: the datapath takes a port over only while that entry is there.
        var gone = new bool[clientSides.Count];
        var deleted = datapath.DeleteFlows(CollectionsMarshal.AsSpan(clientSides), gone);
        datapath.DeleteFlows([.. backendSides.Where((_, i) => gone[i]), .. alone], new bool[deleted + alone.Count]);
        return new SweepResult(deleted, perListener, perBackend);
    }

    // A packet seen after the clock was read is not idle at all.
    private static TimeSpan Idle(ulong now, ulong lastSeen) =>
        now > lastSeen ? TimeSpan.FromTicks((long)((now - lastSeen) / 100)) : TimeSpan.Zero;
}
