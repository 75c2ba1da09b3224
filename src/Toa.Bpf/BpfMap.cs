// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Toa.Bpf.Native;

namespace Toa.Bpf;

/// <summary>Flags for <see cref="BpfMap.Update{TKey, TValue}"/>.</summary>
public enum BpfUpdate : ulong
{
    /// <summary>Create or replace.</summary>
    Any = 0,
    /// <summary>Create only.</summary>
    NoExist = 1,
    /// <summary>Replace only.</summary>
    Exist = 2,
}

/// <summary>
/// A map: either one of a <see cref="BpfObject"/>'s (valid while the object is)
/// or one opened from a pin (owns its fd). Keys and values are blittable structs
/// laid out like their C counterparts.
/// </summary>
public sealed unsafe class BpfMap : IDisposable
{
    private const uint BPF_F_RDONLY = 1 << 3;

    private readonly nint _map;
    private readonly SafeFileHandle? _fd;

    internal BpfMap(BpfObject owner, nint map)
    {
        _map = map;
        Name = Marshal.PtrToStringUTF8((nint)LibBpf.MapName(map)) ?? "";
        Owner = owner;
    }

    private BpfMap(SafeFileHandle fd, string name)
    {
        _fd = fd;
        Name = name;
    }

    /// <summary>The map's name (for pinned maps, the pin path).</summary>
    public string Name { get; }

    internal BpfObject? Owner { get; }

    internal nint Handle => _map;

    /// <summary>
    /// The map's max_entries: an object's as the program declares it (set before the object is loaded to
    /// create the map with another), a pinned map's as the kernel made it.
    /// </summary>
    public uint MaxEntries
    {
        get => _map != 0 ? LibBpf.MapMaxEntries(_map) : KernelMaxEntries();
        set => BpfException.Check(_map != 0 ? LibBpf.MapSetMaxEntries(_map, value)
            : throw new InvalidOperationException($"map {Name}: opened from a pin, it exists already"), $"map {Name}: set max_entries");
    }

    /// <summary>The map's fd; -1 for an object's map before load.</summary>
    public int Fd => _fd is not null ? (int)_fd.DangerousGetHandle() : LibBpf.MapFd(_map);

    /// <summary>Opens a pinned map; <paramref name="readOnly"/> opens it with BPF_F_RDONLY (enough for a 0644 pin).</summary>
    public static BpfMap OpenPinned(string path, bool readOnly = false)
    {
        var opts = new LibBpf.ObjGetOptions { Size = (nuint)sizeof(LibBpf.ObjGetOptions), FileFlags = readOnly ? BPF_F_RDONLY : 0 };
        var handle = new SafeFileHandle(BpfException.Check(LibBpf.ObjGetOpts(path, &opts), $"map {path}: open pin"), ownsHandle: true);
        if (BpfFs.KindOf((int)handle.DangerousGetHandle()) is var kind && kind != "bpf-map")
        {
            handle.Dispose();
            throw new BpfException($"map {path}: open pin: the pin holds a {kind}", LinuxErrno.EINVAL);
        }
        return new BpfMap(handle, path);
    }

    /// <summary>The map's kernel id.</summary>
    public uint Id
    {
        get
        {
            // struct bpf_map_info begins with type and id; the kernel fills as much as it is given.
            var info = stackalloc uint[2];
            var len = (uint)(2 * sizeof(uint));
            BpfException.Check(LibBpf.ObjGetInfoByFd(Fd, info, &len), $"map {Name}: info");
            return info[1];
        }
    }

    // struct bpf_map_info: type, id, key_size, value_size, max_entries.
    private uint KernelMaxEntries()
    {
        var info = stackalloc uint[5];
        var len = (uint)(5 * sizeof(uint));
        BpfException.Check(LibBpf.ObjGetInfoByFd(Fd, info, &len), $"map {Name}: info");
        return info[4];
    }

    /// <summary>Makes this (not yet loaded) object map use an existing map instead of creating one.</summary>
    public void ReuseFrom(BpfMap existing) =>
        BpfException.Check(LibBpf.MapReuseFd(_map, existing.Fd), $"map {Name}: reuse {existing.Name}");

    /// <summary>Pins the map at <paramref name="path"/>.</summary>
    public void Pin(string path) => BpfException.Check(LibBpf.ObjPin(Fd, path), $"map {Name}: pin at {path}");

    /// <summary>
    /// Pins the map at <paramref name="path"/> with file mode <paramref name="mode"/> (e.g. 0644 lets
    /// processes without root open it read-only).
    /// </summary>
    public void Pin(string path, int mode)
    {
        Pin(path);
        if (LibC.Chmod(path, (uint)mode) != 0)
            throw new BpfException($"map {Name}: chmod {Convert.ToString(mode, 8)} {path}", Marshal.GetLastPInvokeError());
    }

    /// <summary>Looks up <paramref name="key"/>; false when absent.</summary>
    public bool TryLookup<TKey, TValue>(in TKey key, out TValue value) where TKey : unmanaged where TValue : unmanaged
    {
        value = default;
        fixed (TKey* k = &key)
        fixed (TValue* v = &value)
        {
            var ret = LibBpf.MapLookupElem(Fd, k, v);
            if (ret == -LinuxErrno.ENOENT)
                return false;
            BpfException.Check(ret, $"map {Name}: lookup");
            return true;
        }
    }

    /// <summary>Creates or replaces the element at <paramref name="key"/>.</summary>
    public void Update<TKey, TValue>(in TKey key, in TValue value, BpfUpdate flags = BpfUpdate.Any)
        where TKey : unmanaged where TValue : unmanaged
    {
        fixed (TKey* k = &key)
        fixed (TValue* v = &value)
            BpfException.Check(LibBpf.MapUpdateElem(Fd, k, v, (ulong)flags), $"map {Name}: update");
    }

    /// <summary>Deletes the element at <paramref name="key"/>; false when it was absent.</summary>
    public bool Delete<TKey>(in TKey key) where TKey : unmanaged
    {
        fixed (TKey* k = &key)
        {
            var ret = LibBpf.MapDeleteElem(Fd, k);
            if (ret == -LinuxErrno.ENOENT)
                return false;
            BpfException.Check(ret, $"map {Name}: delete");
            return true;
        }
    }

    /// <summary>The keys, in the map's iteration order.</summary>
    public IEnumerable<TKey> Keys<TKey>() where TKey : unmanaged
    {
        TKey current = default;
        var first = true;
        while (NextKey(first, ref current))
        {
            first = false;
            yield return current;
        }
    }

    private bool NextKey<TKey>(bool first, ref TKey key) where TKey : unmanaged
    {
        TKey next;
        fixed (TKey* k = &key)
        {
            var ret = LibBpf.MapGetNextKey(Fd, first ? null : k, &next);
            if (ret == -LinuxErrno.ENOENT)
                return false;
            BpfException.Check(ret, $"map {Name}: next key");
        }
        key = next;
        return true;
    }

    /// <summary>
    /// Every entry, read <paramref name="batch"/> at a time with BPF_MAP_LOOKUP_BATCH (one system call per
    /// batch, where a walk by key costs two per entry); a kernel or map type without it is walked by key.
    /// Entries added or removed meanwhile may or may not be seen, as with <see cref="Keys{TKey}"/>.
    /// </summary>
    public IEnumerable<(TKey Key, TValue Value)> Entries<TKey, TValue>(int batch = 1024) where TKey : unmanaged where TValue : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var keys = new TKey[batch];
        var values = new TValue[batch];
        // The kernel's batch token is a bucket or index: 8 bytes hold either, and a key's size is the least it asks.
        var token = new byte[Math.Max(System.Runtime.CompilerServices.Unsafe.SizeOf<TKey>(), 8)];
        var first = true;
        while (true)
        {
            var (count, done) = LookupBatch(first, token, keys, values);
            if (count < 0)
            {
                foreach (var key in Keys<TKey>())
                    if (TryLookup(key, out TValue value))
                        yield return (key, value);
                yield break;
            }
            for (var i = 0; i < count; i++)
                yield return (keys[i], values[i]);
            if (done)
                yield break;
            first = false;
        }
    }

    /// <summary>One batch into the arrays; count -1 when the first batch finds the command unsupported.</summary>
    private (int Count, bool Done) LookupBatch<TKey, TValue>(bool first, byte[] token, TKey[] keys, TValue[] values)
        where TKey : unmanaged where TValue : unmanaged
    {
        var count = (uint)keys.Length;
        var outToken = new byte[token.Length];
        int ret;
        fixed (byte* inBatch = token, outBatch = outToken)
        fixed (TKey* k = keys)
        fixed (TValue* v = values)
            ret = LibBpf.MapLookupBatch(Fd, first ? null : inBatch, outBatch, k, v, &count, null);
        if (first && ret is -LinuxErrno.EINVAL or -LinuxErrno.EOPNOTSUPP or -LinuxErrno.ENOTSUPP)
            return (-1, true);
        if (ret == -LinuxErrno.ENOENT)
            return ((int)count, true);
        BpfException.Check(ret, $"map {Name}: lookup batch");
        outToken.CopyTo(token, 0);
        return ((int)count, false);
    }

    /// <summary>
    /// Creates or replaces every <paramref name="keys"/>[i] with <paramref name="values"/>[i] in one
    /// BPF_MAP_UPDATE_BATCH where the kernel has it, else one update each.
    /// </summary>
    public void UpdateBatch<TKey, TValue>(ReadOnlySpan<TKey> keys, ReadOnlySpan<TValue> values) where TKey : unmanaged where TValue : unmanaged
    {
        if (keys.Length != values.Length)
            throw new ArgumentException($"{keys.Length} keys for {values.Length} values", nameof(values));
        var count = (uint)keys.Length;
        int ret;
        fixed (TKey* k = keys)
        fixed (TValue* v = values)
            ret = LibBpf.MapUpdateBatch(Fd, k, v, &count, null);
        if (ret is -LinuxErrno.EINVAL or -LinuxErrno.EOPNOTSUPP or -LinuxErrno.ENOTSUPP && count == 0)
        {
            for (var i = 0; i < keys.Length; i++)
                Update(keys[i], values[i]);
            return;
        }
        BpfException.Check(ret, $"map {Name}: update batch");
    }

    /// <summary>
    /// Deletes every key of <paramref name="keys"/> that is present, with BPF_MAP_DELETE_BATCH where the
    /// kernel has it (one system call for all, where a key already gone costs one more), else one delete
    /// each. <paramref name="deleted"/>[i] tells whether <paramref name="keys"/>[i] was present; returns
    /// how many were.
    /// </summary>
    public int DeleteBatch<TKey>(ReadOnlySpan<TKey> keys, Span<bool> deleted) where TKey : unmanaged
    {
        if (deleted.Length < keys.Length)
            throw new ArgumentException($"room for {deleted.Length} answers, {keys.Length} keys", nameof(deleted));
        var total = 0;
        for (var start = 0; start < keys.Length;)
        {
            var rest = keys[start..];
            var count = (uint)rest.Length;
            int ret;
            fixed (TKey* k = rest)
                ret = LibBpf.MapDeleteBatch(Fd, k, &count, null);
            if (ret is -LinuxErrno.EINVAL or -LinuxErrno.EOPNOTSUPP or -LinuxErrno.ENOTSUPP && count == 0)
            {
                for (var i = start; i < keys.Length; i++)
                    total += (deleted[i] = Delete(keys[i])) ? 1 : 0;
                return total;
            }
            deleted.Slice(start, (int)count).Fill(true);
            total += (int)count;
            start += (int)count;
            if (ret == 0)
                break;
            // The kernel stops at the first key that is absent: it stays, and the rest go on after it.
            if (ret != -LinuxErrno.ENOENT)
                BpfException.Check(ret, $"map {Name}: delete batch");
            deleted[start++] = false;
        }
        return total;
    }

    /// <summary>Every possible CPU's value at <paramref name="key"/> of a per-CPU map.</summary>
    public TValue[] LookupPerCpu<TKey, TValue>(in TKey key) where TKey : unmanaged where TValue : unmanaged
    {
        var cpus = PossibleCpus;
        // The kernel lays per-CPU values out 8-byte aligned.
        var stride = (sizeof(TValue) + 7) & ~7;
        var buffer = new byte[stride * cpus];
        fixed (TKey* k = &key)
        fixed (byte* b = buffer)
        {
            BpfException.Check(LibBpf.MapLookupElem(Fd, k, b), $"map {Name}: per-CPU lookup");
            var values = new TValue[cpus];
            for (var i = 0; i < cpus; i++)
                values[i] = *(TValue*)(b + i * stride);
            return values;
        }
    }

    /// <summary>The number of possible CPUs, the length of per-CPU values.</summary>
    public static int PossibleCpus { get; } = LibBpf.NumPossibleCpus();

    /// <inheritdoc />
    public void Dispose() => _fd?.Dispose();
}
