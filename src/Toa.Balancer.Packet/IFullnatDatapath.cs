// SPDX-License-Identifier: MIT
namespace Toa.Balancer.Packet;

/// <summary>
/// The datapath's maps and attachments, as the engine drives them: the loaded, pinned
/// bpf/fullnat.bpf.c (FullnatDatapath), or a fake in tests. Every write goes to
/// the kernel at once; nothing is cached.
/// </summary>
internal interface IFullnatDatapath : IDisposable
{
    /// <summary>Attaches the program to <paramref name="ifindex"/>'s tc ingress (clsact, direct action), replacing an older program in place.</summary>
    void Attach(int ifindex);

    /// <summary>Removes the program from <paramref name="ifindex"/>'s ingress; nothing if it is not there.</summary>
    void Detach(int ifindex);

    /// <summary>The interfaces the program is attached to now.</summary>
    IReadOnlyList<int> Attached { get; }

    void SetConfig(in PacketAbi.Config config);

    void SetVip(in PacketAbi.VipKey key, in PacketAbi.Vip vip);

    void RemoveVip(in PacketAbi.VipKey key);

    void SetBackend(uint index, in PacketAbi.Backend backend);

    /// <summary>Writes region <paramref name="region"/> of fn_tables: <see cref="PacketAbi.TableSize"/> backend indexes.</summary>
    void SetTable(uint region, ReadOnlySpan<uint> slots);

    /// <summary>fn_flows's entries now (a snapshot; entries may come and go meanwhile).</summary>
    IEnumerable<(PacketAbi.Flow Key, PacketAbi.Conn Value)> Flows();

    /// <summary>fn_flows's entry at <paramref name="key"/> now; false when there is none.</summary>
    bool TryFlow(in PacketAbi.Flow key, out PacketAbi.Conn conn);

    /// <summary>
    /// Deletes the flow entries still present; <paramref name="deleted"/>[i] tells whether
    /// <paramref name="keys"/>[i] was. Returns how many were.
    /// </summary>
    int DeleteFlows(ReadOnlySpan<PacketAbi.Flow> keys, Span<bool> deleted);

    /// <summary>A listener's counters summed over CPUs, indexed by <see cref="PacketAbi.Counter"/>.</summary>
    long[] ListenerCounts(uint id);

    /// <summary>A backend's counters summed over CPUs.</summary>
    PacketAbi.BackendCounts BackendCounts(uint index);

    /// <summary>The clock fn_conn.last_seen is read on (CLOCK_MONOTONIC, nanoseconds).</summary>
    ulong Now();
}
