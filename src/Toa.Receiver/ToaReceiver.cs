// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toa.Bpf;
using Toa.Bpf.Features;
using Toa.Sockets;
using Toa.Wire;

namespace Toa.Receiver;

/// <summary>What <see cref="ToaReceiver.Load"/> did.</summary>
public enum ReceiverLoadOutcome
{
    /// <summary>Loaded, attached and pinned.</summary>
    Loaded,
    /// <summary>Already loaded; nothing changed.</summary>
    AlreadyLoaded,
    /// <summary>The programs and settings were replaced; the connections' records and counters were kept.</summary>
    Replaced,
}

/// <summary>One attached program.</summary>
/// <param name="Hook">The attach point: sock_ops, getpeername4, getpeername6 or getsockopt.</param>
/// <param name="ProgramId">The program's kernel id.</param>
/// <param name="LinkId">The link's kernel id.</param>
public sealed record AttachedProgram(string Hook, uint ProgramId, uint LinkId);

/// <summary>What is loaded, where, and how it is set.</summary>
/// <param name="PinDirectory">Where it is pinned.</param>
/// <param name="Cgroup">The cgroup directory the programs are attached to (or "id N" if it is gone).</param>
/// <param name="Formats">The layouts honoured.</param>
/// <param name="Trust">The trusted networks; empty trusts every peer.</param>
/// <param name="Nat64Peer">getpeername() on AF_INET6 sockets of NAT64 connections.</param>
/// <param name="ErrnoFromProgram">Whether getsockopt 4096 fails with EINVAL (else the kernel's ENOPROTOOPT, before 5.18).</param>
/// <param name="Programs">The attached programs.</param>
/// <param name="Since">When the programs were loaded.</param>
/// <param name="Namespaces">The network namespaces whose sockets honour a TOA; null: every namespace.</param>
public sealed record ReceiverStatus(string PinDirectory, string Cgroup, ToaLayouts Formats, IReadOnlyList<IPNetwork> Trust,
    Nat64PeerMode Nat64Peer, bool ErrnoFromProgram, IReadOnlyList<AttachedProgram> Programs, DateTimeOffset Since,
    IReadOnlyList<NetworkNamespace>? Namespaces)
{
    /// <summary>
    /// How many connections' records the connections map holds at most (beyond them: socket storage);
    /// null when every record goes to socket storage (a kernel before 5.15, or a receiver older than the map).
    /// </summary>
    public uint? Connections { get; init; }
}

/// <summary>
/// The receiver's lifecycle: load (attach at a cgroup, pin under a directory of the
/// bpf filesystem, so it outlives this process like a module), status, counters,
/// the connection table, unload. The pins are the state: nothing else is kept.
/// </summary>
public static class ToaReceiver
{
    /// <summary>The default pin directory.</summary>
    public const string DefaultPinDirectory = ReceiverAbi.Pins.DefaultDirectory;

    private const int ReadableByAll = 0b110_100_100, OwnerOnly = 0b110_000_000;

    private static readonly (string Hook, string Program)[] Hooks =
    [
        ("sock_ops", ReceiverAbi.SockOps),
        ("getpeername4", ReceiverAbi.GetPeerName4),
        ("getpeername6", ReceiverAbi.GetPeerName6),
        ("getsockopt", ReceiverAbi.GetSockOpt),
    ];

    // Maps whose contents outlive a --force: the records of live connections, counters, parked SYNs.
    private static readonly (string Pin, string Map)[] KeptMaps =
    [
        (ReceiverAbi.Pins.Conns, ReceiverAbi.ConnsMap),
        (ReceiverAbi.Pins.Records, ReceiverAbi.RecordsMap),
        (ReceiverAbi.Pins.Stats, ReceiverAbi.StatsMap),
        (ReceiverAbi.Pins.Parked, ReceiverAbi.ParkedMap),
        (ReceiverAbi.Pins.ParkedCount, ".bss"),
        (ReceiverAbi.Pins.Trace, ReceiverAbi.TraceSection),
        (ReceiverAbi.Pins.TraceEvents, ReceiverAbi.EventsMap),
    ];

    // Every map pinned: those kept across a --force, and those a --force fills anew.
    private static readonly (string Pin, string Map)[] PinnedMaps =
        [.. KeptMaps, (ReceiverAbi.Pins.Trust, ReceiverAbi.TrustMap), (ReceiverAbi.Pins.Netns, ReceiverAbi.NetnsMap),
            (ReceiverAbi.Pins.Config, ".rodata")];

    // The kernel keeps BPF_OBJ_NAME_LEN - 1 characters of a program's name.
    private const int KernelNameLength = 15;

    /// <summary>Whether a receiver is pinned at <paramref name="pinDirectory"/>.</summary>
    public static bool IsLoaded(string pinDirectory) => File.Exists(LinkPin(pinDirectory, Hooks[0].Hook));

    /// <summary>
    /// Loads and attaches the receiver. When one is loaded already: nothing, unless
    /// <paramref name="force"/>, which swaps in new programs and settings atomically
    /// (the links stay, so does every live connection's record). On a kernel without a
    /// feature the receiver needs it throws <see cref="MissingKernelFeatureException"/>
    /// before touching anything; on a pin directory someone other than root could write (or
    /// one above it), <see cref="InvalidOperationException"/>, with or without a receiver there;
    /// <see cref="ArgumentException"/> for a path in <see cref="ReceiverOptions.Namespaces"/> that
    /// names no network namespace.
    /// </summary>
    public static ReceiverLoadOutcome Load(ReceiverOptions options, bool force, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        FeatureProbes.Current.Require(KernelFeatures.Receiver);
        var namespaces = options.Namespaces?.Select(NetworkNamespace.Of).Distinct().ToArray();
        var pins = options.PinDirectory;
        if (pins.StartsWith(BpfFs.DefaultMount + "/", StringComparison.Ordinal) && BpfFs.EnsureMounted())
            logger.LogInformation("mounted the bpf filesystem at {Mount}", BpfFs.DefaultMount);
        RequireRootOnly(pins);
        var cgroup = options.Cgroup is null ? Cgroup.RootGroup : Cgroup.At(options.Cgroup);
        if (IsLoaded(pins))
        {
            if (!force)
                return ReceiverLoadOutcome.AlreadyLoaded;
            Replace(options, namespaces, cgroup, logger);
            return ReceiverLoadOutcome.Replaced;
        }
        LoadFresh(options, namespaces, cgroup, logger);
        return ReceiverLoadOutcome.Loaded;
    }

    private static void LoadFresh(ReceiverOptions options, NetworkNamespace[]? namespaces, Cgroup cgroup, ILogger logger)
    {
        var pins = options.PinDirectory;
        using var obj = Open(options, namespaces);
        obj.Load();
        FillTrust(obj.Map(ReceiverAbi.TrustMap), options.Trust);
        FillNetns(obj.Map(ReceiverAbi.NetnsMap), namespaces);
        BpfFs.CreateDirectory(pins);
        // Again as it is now, made here or there before: a directory raced in by someone else is theirs.
        RequireRootOnly(pins);
        // A failed load takes back what it pinned, and only that: the directory may hold others' pins.
        var pinned = new List<string>();
        try
        {
            foreach (var (pin, map) in PinnedMaps)
            {
                MapOf(obj, map).Pin(Path.Join(pins, pin), PinMode(pin));
                pinned.Add(Path.Join(pins, pin));
            }
            using var dir = cgroup.Open();
            // sock_ops last: records appear only once the hooks that read them are attached.
            foreach (var (hook, program) in Hooks.Reverse())
            {
                using var link = obj.Program(program).AttachCgroup(dir);
                link.Pin(LinkPin(pins, hook));
                pinned.Add(LinkPin(pins, hook));
            }
            logger.LogInformation("attached to {Cgroup}, pinned under {Pins}", cgroup.Path, pins);
        }
        catch
        {
            pinned.Reverse();
            Remove(pinned, pins);
            throw;
        }
    }

    // Whoever can write the pin directory (or one above it) can remove the links' pins, which detaches the receiver.
    private static void RequireRootOnly(string pins)
    {
        if (RootOnlyPath.Problem(pins) is { } problem)
            throw new InvalidOperationException($"pin directory {pins}: {problem}: someone other than root could remove the "
                + "receiver's pins there and so detach it; make it root's alone (chown root, chmod go-w) or remove it, or choose another --pin-dir");
    }

    private static void Replace(ReceiverOptions options, NetworkNamespace[]? namespaces, Cgroup cgroup, ILogger logger)
    {
        var pins = options.PinDirectory;
        var current = Status(pins) ?? throw new InvalidOperationException($"receiver at {pins}: vanished while being replaced");
        if (current.Cgroup != cgroup.Path)
            throw new InvalidOperationException(
                $"the receiver at {pins} is attached to {current.Cgroup}, not {cgroup.Path}: unload it first to move it");
        using var obj = Open(options, namespaces);
        var kept = new List<BpfMap>();
        var added = new List<(string Pin, string Map)>();
        try
        {
            foreach (var (pin, map) in KeptMaps)
            {
                // A receiver loaded before a map existed lacks its pin: the new map gets one.
                if (!File.Exists(Path.Join(pins, pin)))
                {
                    added.Add((pin, map));
                    continue;
                }
                var existing = BpfMap.OpenPinned(Path.Join(pins, pin));
                kept.Add(existing);
                MapOf(obj, map).ReuseFrom(existing);
            }
            obj.Load();
        }
        finally
        {
            foreach (var map in kept)
                map.Dispose();
        }
        foreach (var (pin, map) in added)
            MapOf(obj, map).Pin(Path.Join(pins, pin), PinMode(pin));
        FillTrust(obj.Map(ReceiverAbi.TrustMap), options.Trust);
        RepinMap(obj.Map(ReceiverAbi.TrustMap), Path.Join(pins, ReceiverAbi.Pins.Trust));
        FillNetns(obj.Map(ReceiverAbi.NetnsMap), namespaces);
        RepinMap(obj.Map(ReceiverAbi.NetnsMap), Path.Join(pins, ReceiverAbi.Pins.Netns));
        RepinMap(MapOf(obj, ".rodata"), Path.Join(pins, ReceiverAbi.Pins.Config));
        foreach (var (hook, program) in Hooks)
        {
            using var link = BpfLink.OpenPinned(LinkPin(pins, hook));
            link.Update(obj.Program(program));
        }
        logger.LogInformation("replaced the programs attached to {Cgroup}", cgroup.Path);
    }

    /// <summary>
    /// Detaches the receiver at <paramref name="pinDirectory"/> by removing its pins: the links whose
    /// programs are the receiver's, and the maps those programs use. Anything else there (others' pins,
    /// links, directories) stays, and so does the directory unless it is left empty. False, touching
    /// nothing, when no receiver's link is pinned there.
    /// </summary>
    public static bool Unload(string pinDirectory)
    {
        var links = new List<string>();
        var maps = new HashSet<uint>();
        foreach (var (hook, program) in Hooks)
        {
            var path = LinkPin(pinDirectory, hook);
            if (ProgramBehind(path) is var (name, mapIds) && name == program[..Math.Min(program.Length, KernelNameLength)])
            {
                links.Add(path);
                maps.UnionWith(mapIds);
            }
        }
        if (links.Count == 0)
            return false;
        var mapPins = PinnedMaps.Select(m => Path.Join(pinDirectory, m.Pin)).Where(p => MapIdAt(p) is { } id && maps.Contains(id));
        // Maps first, links last: an unload cut short leaves a receiver that the next one finds. sock_ops is
        // the first link: no new records once the hooks that read them go.
        Remove([.. mapPins, .. links], pinDirectory);
        return true;
    }

    // The program a link pin attaches and the maps it uses; null when the path holds no link pinned there (a
    // symbolic link is not the receiver's pin, whatever it points to).
    private static (string Name, uint[] MapIds)? ProgramBehind(string linkPin)
    {
        if (new FileInfo(linkPin) is not { Exists: true, LinkTarget: null })
            return null;
        try
        {
            using var link = BpfLink.OpenPinned(linkPin);
            var programId = link.Info.ProgramId;
            using var program = BpfProgramInfo.OpenById(programId);
            var fd = (int)program.DangerousGetHandle();
            return (BpfProgramInfo.Read(fd, $"program {programId}").Name, BpfProgramInfo.ReadMapIds(fd, $"program {programId}"));
        }
        catch (BpfException e) when (e.Errno is LinuxErrno.EINVAL or LinuxErrno.ENOENT)
        {
            return null;
        }
    }

    private static uint? MapIdAt(string mapPin)
    {
        if (new FileInfo(mapPin) is not { Exists: true, LinkTarget: null })
            return null;
        try
        {
            using var map = BpfMap.OpenPinned(mapPin, readOnly: true);
            return map.Id;
        }
        catch (BpfException e) when (e.Errno is LinuxErrno.EINVAL or LinuxErrno.ENOENT)
        {
            return null;
        }
    }

    // Removing a link's last pin detaches it; maps go once no program uses them. The directory goes once empty.
    private static void Remove(IEnumerable<string> pins, string pinDirectory)
    {
        foreach (var pin in pins)
            File.Delete(pin);
        if (Directory.Exists(pinDirectory) && !Directory.EnumerateFileSystemEntries(pinDirectory).Any())
            Directory.Delete(pinDirectory);
    }

    /// <summary>What is loaded at <paramref name="pinDirectory"/>, or null if nothing is.</summary>
    public static ReceiverStatus? Status(string pinDirectory)
    {
        if (!IsLoaded(pinDirectory))
            return null;
        var programs = new List<AttachedProgram>();
        ulong cgroupId = 0;
        var since = DateTimeOffset.MaxValue;
        foreach (var (hook, _) in Hooks)
        {
            using var link = BpfLink.OpenPinned(LinkPin(pinDirectory, hook));
            var info = link.Info;
            cgroupId = info.CgroupId;
            programs.Add(new AttachedProgram(hook, info.ProgramId, info.Id));
            using var program = BpfProgramInfo.OpenById(info.ProgramId);
            var loadedAt = BpfProgramInfo.Read((int)program.DangerousGetHandle(), $"program {info.ProgramId}").LoadedAt;
            if (loadedAt < since)
                since = loadedAt;
        }
        ReceiverAbi.Config config;
        using (var map = BpfMap.OpenPinned(Path.Join(pinDirectory, ReceiverAbi.Pins.Config), readOnly: true))
            map.TryLookup(0, out config);
        var cgroup = Bpf.Cgroup.FindById(cgroupId)?.Path ?? $"id {cgroupId}";
        return new ReceiverStatus(pinDirectory, cgroup, (ToaLayouts)config.Formats, ReadTrust(pinDirectory),
            (Nat64PeerMode)config.Nat64Peer, config.SetRetval != 0, programs, since,
            config.NetnsScoped != 0 ? ReadNetns(pinDirectory) : null)
        {
            Connections = config.Conns != 0 && File.Exists(Path.Join(pinDirectory, ReceiverAbi.Pins.Conns)) ? ConnectionsOf(pinDirectory) : null,
        };
    }

    private static uint ConnectionsOf(string pinDirectory)
    {
        using var map = BpfMap.OpenPinned(Path.Join(pinDirectory, ReceiverAbi.Pins.Conns), readOnly: true);
        return map.MaxEntries;
    }

    /// <summary>The counters of the receiver at <paramref name="pinDirectory"/>.</summary>
    public static ReceiverCounters ReadCounters(string pinDirectory)
    {
        RequireLoaded(pinDirectory);
        using var map = BpfMap.OpenPinned(Path.Join(pinDirectory, ReceiverAbi.Pins.Stats), readOnly: true);
        var perCpu = map.LookupPerCpu<int, ReceiverAbi.Stats>(0);
        var counters = new List<ToaCounter>();
        for (var i = 0; i < ReceiverAbi.StatsFields.Count; i++)
        {
            var values = new ulong[perCpu.Length];
            for (var cpu = 0; cpu < perCpu.Length; cpu++)
                values[cpu] = Field(perCpu[cpu], i);
            counters.Add(new ToaCounter(ReceiverAbi.StatsFields[i], values));
        }
        return new ReceiverCounters(counters);
    }

    /// <summary>
    /// The connections holding a TOA in the calling thread's network namespace: the connections
    /// map's, and socket storage's read through sock_diag. The data path does no extra work for it.
    /// </summary>
    public static IReadOnlyList<ToaConnection> ReadTable(string pinDirectory)
    {
        RequireLoaded(pinDirectory);
        var table = new List<ToaConnection>();
        // A receiver loaded before the connections map existed has no pin of it; a kernel without
        // SO_NETNS_COOKIE (before 5.14) predates the helper the programs need to use it (5.15).
        if (File.Exists(Path.Join(pinDirectory, ReceiverAbi.Pins.Conns)) && NetnsCookie() is { } cookie)
        {
            using var conns = BpfMap.OpenPinned(Path.Join(pinDirectory, ReceiverAbi.Pins.Conns), readOnly: true);
            var netns = (uint)cookie;
            foreach (var key in conns.Keys<ReceiverAbi.FlowKey>())
            {
                // A connection closing meanwhile takes its entry with it.
                if (key.Netns == netns && conns.TryLookup(key, out ReceiverAbi.Conn conn))
                    table.Add(ToaConnection.From(RecordOf(key, conn)));
            }
        }
        using var map = BpfMap.OpenPinned(Path.Join(pinDirectory, ReceiverAbi.Pins.Records), readOnly: true);
        table.AddRange(SkStorageDiag.Dump(map).Select(e => ToaConnection.From(e.Value)));
        return table;
    }

    // The cookie of the calling thread's network namespace (SO_NETNS_COOKIE, 5.14), the one the programs
    // key records by; null where the kernel has no such option.
    private static ulong? NetnsCookie()
    {
        const int SOL_SOCKET = 1, SO_NETNS_COOKIE = 71; // Linux's numbers (SocketOptionLevel.Socket is Windows')
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Span<byte> cookie = stackalloc byte[sizeof(ulong)];
        try
        {
            socket.GetRawSocketOption(SOL_SOCKET, SO_NETNS_COOKIE, cookie);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ProtocolOption)
        {
            return null;
        }
        return BitConverter.ToUInt64(cookie);
    }

    // A connections map entry as socket storage holds a record: the key gives the addresses.
    private static unsafe ReceiverAbi.Record RecordOf(ReceiverAbi.FlowKey key, ReceiverAbi.Conn conn)
    {
        var record = new ReceiverAbi.Record
        {
            SinceNs = conn.SinceNs,
            ClientPort = conn.ClientPort,
            PeerPort = key.RemotePort,
            LocalPort = (ushort)IPAddress.HostToNetworkOrder((short)key.LocalPort),
            Layout = conn.Layout,
            Source = conn.Source,
            Flags = conn.Flags,
        };
        new ReadOnlySpan<byte>(conn.Client, 16).CopyTo(new Span<byte>(record.Client, 16));
        new ReadOnlySpan<byte>(key.Remote, 16).CopyTo(new Span<byte>(record.Peer, 16));
        new ReadOnlySpan<byte>(key.Local, 16).CopyTo(new Span<byte>(record.Local, 16));
        return record;
    }

    private static unsafe ulong Field(ReceiverAbi.Stats stats, int index) => stats.Values[index];

    private static void RequireLoaded(string pinDirectory)
    {
        if (!IsLoaded(pinDirectory))
            throw new InvalidOperationException($"no receiver is loaded at {pinDirectory} (toa load)");
    }

    private static BpfObject Open(ReceiverOptions options, NetworkNamespace[]? namespaces)
    {
        var obj = BpfObject.OpenEmbedded(typeof(ToaReceiver).Assembly, ReceiverAbi.ObjectResource);
        var conns = FeatureProbes.Current.Check(KernelFeatures.NetnsCookie).Supported;
        try
        {
            obj.SetConstant(ReceiverAbi.ConfigVariable, new ReceiverAbi.Config
            {
                Formats = (uint)options.Formats,
                Nat64Peer = (uint)options.Nat64Peer,
                TrustEnabled = options.Trust.Count > 0 ? 1u : 0u,
                SetRetval = FeatureProbes.Current.Check(KernelFeatures.SockoptRetval).Supported ? 1u : 0u,
                NetnsScoped = namespaces is null ? 0u : 1u,
                Conns = conns ? 1u : 0u,
            });
            if (options.Connections < 1)
                throw new ArgumentException($"{options.Connections} connections: the connections map needs room for at least 1");
            // Unused without the cookie helper: the smallest map there is.
            obj.Map(ReceiverAbi.ConnsMap).MaxEntries = conns ? (uint)options.Connections : 1;
            var room = obj.Map(ReceiverAbi.NetnsMap).MaxEntries;
            if (namespaces?.Length > room)
                throw new ArgumentException($"{namespaces.Length} network namespaces: the receiver honours at most {room}");
            return obj;
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    // libbpf names the object's internal maps "<object>.rodata", "<object>.bss", and ".data.<name>" its own.
    private static BpfMap MapOf(BpfObject obj, string nameOrSection) =>
        nameOrSection.StartsWith('.')
            ? obj.Maps.Values.Single(m => m.Name.EndsWith(nameOrSection, StringComparison.Ordinal))
            : obj.Map(nameOrSection);

    // A server reads its own record with its socket fd, and anyone the counters, without root.
    private static int PinMode(string pin) => pin is ReceiverAbi.Pins.Records or ReceiverAbi.Pins.Stats ? ReadableByAll : OwnerOnly;

    private static void FillTrust(BpfMap map, IReadOnlyList<IPNetwork> networks)
    {
        foreach (var network in networks)
        {
            var key = TrustKeyOf(network);
            map.Update(key, (byte)1);
        }
    }

    private static void FillNetns(BpfMap map, NetworkNamespace[]? namespaces)
    {
        foreach (var ns in namespaces ?? [])
            map.Update(ns.Inode, (byte)1);
    }

    private static IReadOnlyList<NetworkNamespace> ReadNetns(string pinDirectory)
    {
        using var map = BpfMap.OpenPinned(Path.Join(pinDirectory, ReceiverAbi.Pins.Netns), readOnly: true);
        return [.. map.Keys<uint>().Select(inode => new NetworkNamespace(inode))];
    }

    internal static unsafe ReceiverAbi.TrustKey TrustKeyOf(IPNetwork network)
    {
        var v4 = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork;
        var address = v4 ? network.BaseAddress.MapToIPv6() : network.BaseAddress;
        var key = new ReceiverAbi.TrustKey { PrefixLength = (uint)(network.PrefixLength + (v4 ? 96 : 0)) };
        address.TryWriteBytes(new Span<byte>(key.Address, 16), out _);
        return key;
    }

    private static unsafe IReadOnlyList<IPNetwork> ReadTrust(string pinDirectory)
    {
        using var map = BpfMap.OpenPinned(Path.Join(pinDirectory, ReceiverAbi.Pins.Trust), readOnly: true);
        var networks = new List<IPNetwork>();
        foreach (var key in map.Keys<ReceiverAbi.TrustKey>())
        {
            var copy = key;
            var address = new IPAddress(new ReadOnlySpan<byte>(copy.Address, 16));
            networks.Add(address.IsIPv4MappedToIPv6
                ? new IPNetwork(address.MapToIPv4(), (int)copy.PrefixLength - 96)
                : new IPNetwork(address, (int)copy.PrefixLength));
        }
        return networks;
    }

    private static void RepinMap(BpfMap map, string path)
    {
        File.Delete(path);
        map.Pin(path);
    }

    private static string LinkPin(string pinDirectory, string hook) => Path.Join(pinDirectory, "link-" + hook.Replace('_', '-'));
}
