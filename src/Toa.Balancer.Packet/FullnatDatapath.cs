// SPDX-License-Identifier: MIT
using System.Diagnostics;
using Toa.Bpf;

namespace Toa.Balancer.Packet;

/// <summary>
/// bpf/fullnat.bpf.c loaded, with its maps pinned in one directory: a process that opens the same
/// directory again (an upgrade, a restart) gets the same maps, so the connections they hold go on,
/// and its <see cref="Attach"/> replaces the older program in place. Disposing closes this process's
/// descriptors only; <see cref="Remove"/> takes the filters and pins away. Attach, Detach and
/// Attached act on the calling thread's network namespace.
/// </summary>
internal sealed class FullnatDatapath : IFullnatDatapath
{
    /// <summary>The tc filter every process of the engine uses, so a newer one replaces an older one.</summary>
    internal static readonly TcHook Hook = new(Handle: 0x70a, Priority: 0x70a);

    private const UnixFileMode PinDirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const int PinMode = 0x180; // 0600: only root reads or writes the engine's state

    internal static readonly string[] MapNames =
    [
        PacketAbi.VipsMap, PacketAbi.BackendsMap, PacketAbi.TablesMap, PacketAbi.ConfigMap,
        PacketAbi.FlowsMap, PacketAbi.ListenerCountsMap, PacketAbi.BackendCountsMap,
    ];

    private readonly BpfObject _object;
    private readonly BpfProgram _program;
    private readonly BpfMap _vips, _backends, _tables, _config, _flows, _listenerCounts, _backendCounts;

    private FullnatDatapath(BpfObject obj)
    {
        _object = obj;
        _program = obj.Program(PacketAbi.Program);
        _vips = obj.Map(PacketAbi.VipsMap);
        _backends = obj.Map(PacketAbi.BackendsMap);
        _tables = obj.Map(PacketAbi.TablesMap);
        _config = obj.Map(PacketAbi.ConfigMap);
        _flows = obj.Map(PacketAbi.FlowsMap);
        _listenerCounts = obj.Map(PacketAbi.ListenerCountsMap);
        _backendCounts = obj.Map(PacketAbi.BackendCountsMap);
    }

    /// <summary>The loaded program, for tests that run it on crafted packets.</summary>
    internal BpfProgram Program => _program;

    /// <summary>
    /// Loads the datapath with the maps pinned in <paramref name="pinDirectory"/>, pinning (mode 0600,
    /// the directory 0700) those not there yet. <paramref name="maxFlows"/> sizes fn_flows (two entries
    /// per connection) when it is created; a pinned fn_flows keeps its size.
    /// </summary>
    public static FullnatDatapath Open(string pinDirectory, int maxFlows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFlows, 2);
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("the packet engine needs Linux");
        BpfFs.EnsureMounted();
        BpfFs.CreateDirectory(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(pinDirectory))!);
        Directory.CreateDirectory(pinDirectory, PinDirectoryMode);
        var obj = BpfObject.OpenEmbedded(typeof(FullnatDatapath).Assembly, PacketAbi.ObjectResource);
        var pinned = new List<BpfMap>();
        try
        {
            obj.Map(PacketAbi.FlowsMap).MaxEntries = (uint)maxFlows;
            var toPin = new List<string>();
            foreach (var name in MapNames)
            {
                var path = Path.Combine(pinDirectory, name);
                if (File.Exists(path))
                {
                    var existing = BpfMap.OpenPinned(path);
                    pinned.Add(existing);
                    obj.Map(name).ReuseFrom(existing);
                }
                else
                {
                    toPin.Add(name);
                }
            }
            obj.Load();
            foreach (var name in toPin)
                obj.Map(name).Pin(Path.Combine(pinDirectory, name), PinMode);
            return new FullnatDatapath(obj);
        }
        catch
        {
            obj.Dispose();
            throw;
        }
        finally
        {
            // The object holds its own descriptors of reused maps.
            foreach (var map in pinned)
                map.Dispose();
        }
    }

    /// <summary>
    /// Takes the datapath away: the filter off each of <paramref name="ifindexes"/> (where it is) and
    /// the pins in <paramref name="pinDirectory"/> with the directory, and the directories above it that
    /// it leaves empty; the maps go once no program holds them. Removing what is gone already does nothing.
    /// </summary>
    public static void Remove(string pinDirectory, IEnumerable<int> ifindexes)
    {
        foreach (var ifindex in ifindexes)
            Hook.Detach(ifindex);
        // Nothing to do where nothing is left: a stop after a removal, or one that never pinned.
        if (!Directory.Exists(pinDirectory))
            return;
        foreach (var name in MapNames)
            File.Delete(Path.Combine(pinDirectory, name));
        BpfFs.DeleteEmptyDirectories(pinDirectory);
    }

    /// <inheritdoc />
    public void Attach(int ifindex) => Hook.Attach(ifindex, _program);

    /// <inheritdoc />
    public void Detach(int ifindex) => Hook.Detach(ifindex);

    /// <inheritdoc />
    /// <remarks>Where the engine's filter holds this program or an older one: any process's is the engine's.</remarks>
    public IReadOnlyList<int> Attached => [.. TcHook.Interfaces().Where(i => Hook.Query(i) is not null)];

    /// <inheritdoc />
    public void SetConfig(in PacketAbi.Config config) => _config.Update(0u, config);

    /// <inheritdoc />
    public void SetVip(in PacketAbi.VipKey key, in PacketAbi.Vip vip) => _vips.Update(key, vip);

    /// <inheritdoc />
    public void RemoveVip(in PacketAbi.VipKey key) => _vips.Delete(key);

    /// <inheritdoc />
    public void SetBackend(uint index, in PacketAbi.Backend backend) => _backends.Update(index, backend);

    /// <inheritdoc />
    public void SetTable(uint region, ReadOnlySpan<uint> slots)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(region, (uint)PacketAbi.TableRegions);
        if (slots.Length != PacketAbi.TableSize)
            throw new ArgumentException($"a table has {PacketAbi.TableSize} slots, not {slots.Length}", nameof(slots));
        var first = region * (uint)PacketAbi.TableSize;
        var keys = new uint[slots.Length];
        for (var i = 0; i < keys.Length; i++)
            keys[i] = first + (uint)i;
        _tables.UpdateBatch<uint, uint>(keys, slots);
    }

    /// <inheritdoc />
    public IEnumerable<(PacketAbi.Flow Key, PacketAbi.Conn Value)> Flows() => _flows.Entries<PacketAbi.Flow, PacketAbi.Conn>();

    /// <inheritdoc />
    public bool TryFlow(in PacketAbi.Flow key, out PacketAbi.Conn conn) => _flows.TryLookup(key, out conn);

    /// <inheritdoc />
    public int DeleteFlows(ReadOnlySpan<PacketAbi.Flow> keys, Span<bool> deleted) => _flows.DeleteBatch(keys, deleted);

    /// <inheritdoc />
    public unsafe long[] ListenerCounts(uint id)
    {
        var sums = new long[PacketAbi.CounterCount];
        foreach (var cpu in _listenerCounts.LookupPerCpu<uint, PacketAbi.Counts>(id))
            for (var i = 0; i < sums.Length; i++)
                sums[i] += (long)cpu.Values[i];
        return sums;
    }

    /// <inheritdoc />
    public PacketAbi.BackendCounts BackendCounts(uint index)
    {
        var sum = new PacketAbi.BackendCounts();
        foreach (var cpu in _backendCounts.LookupPerCpu<uint, PacketAbi.BackendCounts>(index))
        {
            sum.Connections += cpu.Connections;
            sum.BytesIn += cpu.BytesIn;
            sum.BytesOut += cpu.BytesOut;
        }
        return sum;
    }

    /// <inheritdoc />
    /// <remarks>.NET's stopwatch on Linux is CLOCK_MONOTONIC in nanoseconds, bpf_ktime_get_ns's clock.</remarks>
    public ulong Now()
    {
        var ticks = Stopwatch.GetTimestamp();
        return Stopwatch.Frequency == 1_000_000_000 ? (ulong)ticks : (ulong)(ticks * (1_000_000_000.0 / Stopwatch.Frequency));
    }

    /// <inheritdoc />
    public void Dispose() => _object.Dispose();
}
