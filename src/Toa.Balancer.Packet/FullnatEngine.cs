// SPDX-License-Identifier: MIT
using System.Collections;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Toa.Balancer.Configuration;
using Toa.Bpf;
using Toa.Wire;

namespace Toa.Balancer.Packet;

/// <summary>
/// The packet engine's control plane over the FULLNAT datapath: it gives listeners ids and
/// backends indexes, writes each listener's Maglev table into a region of its own before pointing
/// the VIP at it, attaches the program where the VIPs and the routes to the backends are, reserves
/// the SNAT ports, and sweeps idle connections. Ids and indexes stay while connections use them,
/// also across a restart: the first start in a network namespace takes over the pinned maps a
/// previous process left, and claims back the ids its flows carry.
/// </summary>
public sealed partial class FullnatEngine : IPacketEngine
{
    private const int Ipv4Header = 20, Ipv6Header = 40, TcpHeader = 20;
    // IPv4's minimum MTU (576) less its headers: every host takes segments that large.
    private const int MinimumMss = 536;

    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Func<PacketEngineSettings, IFullnatDatapath> _open;
    private readonly INetworkTables _network;
    private readonly LocalPorts _ports;
    private readonly string? _pinDirectory;
    private readonly Action? _removePins;
    private readonly Lock _gate = new();

    private readonly Dictionary<string, ListenerState> _listeners = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Listener, IPEndPoint EndPoint), BackendState> _backends = [];
    private readonly bool[] _listenerIds = new bool[PacketAbi.MaxListeners];
    private readonly bool[] _backendIndexes = new bool[PacketAbi.MaxBackends];
    private readonly bool[] _regions = new bool[PacketAbi.TableRegions];
    // What a previous process's flows use (taken over with the pins): claimed back by the listener
    // and backend they belonged to, or held until those flows are gone.
    private readonly Dictionary<IPEndPoint, uint> _adoptedListeners = [];
    private readonly Dictionary<(uint Listener, IPEndPoint EndPoint), uint> _adoptedBackends = [];
    private readonly HashSet<uint> _heldListenerIds = [];
    private readonly HashSet<uint> _heldBackendIndexes = [];
    private readonly HashSet<int> _attachedHere = [];

    private IFullnatDatapath? _datapath;
    private PacketEngineSettings? _settings;
    private BitArray? _reservedPorts;
    private ITimer? _sweeper;
    private SweepResult _lastSweep = new(0, new Dictionary<uint, long>(), new Dictionary<uint, long>());
    private long _generation;
    private TimeSpan _sweepInterval = FlowSweeper.Interval;
    private bool _disposed;

    /// <summary>The engine of this process's network namespace, its maps pinned under <see cref="PinDirectory.Root"/>.</summary>
    public FullnatEngine(ILoggerFactory loggerFactory, TimeProvider timeProvider)
        : this(loggerFactory, timeProvider, PinDirectory.ForCurrentNamespace())
    {
    }

    private FullnatEngine(ILoggerFactory loggerFactory, TimeProvider timeProvider, string pinDirectory)
        : this(loggerFactory, timeProvider,
            settings => FullnatDatapath.Open(PinDirectory.RootOnly(pinDirectory), maxFlows: checked(settings.MaxConnections * 2)),
            new Routes(), new LocalPorts(), pinDirectory, () => FullnatDatapath.Remove(pinDirectory, []))
    {
    }

    /// <summary>An engine over another datapath and view of the network (tests).</summary>
    internal FullnatEngine(ILoggerFactory loggerFactory, TimeProvider timeProvider, Func<PacketEngineSettings, IFullnatDatapath> openDatapath,
        INetworkTables? network = null, LocalPorts? ports = null, string? pinDirectory = null, Action? removePins = null)
    {
        _log = loggerFactory.CreateLogger("Toa.Balancer.Packet");
        _time = timeProvider;
        _open = openDatapath;
        _network = network ?? new Routes();
        _ports = ports ?? new LocalPorts();
        _pinDirectory = pinDirectory;
        _removePins = removePins;
    }

    /// <inheritdoc />
    public void Prepare(PacketEngineSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.PortMin is < 1 or > 65535 || settings.PortMax is < 1 or > 65535 || settings.PortMin > settings.PortMax)
            throw new ArgumentException($"the packet engine's ports {settings.PortMin}-{settings.PortMax} are no range of ports from 1 to 65535");
        if (settings.MaxConnections < 1)
            throw new ArgumentException($"the packet engine's maxConnections {settings.MaxConnections} is below 1");
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_datapath is not null)
            {
                if (settings.MaxConnections != _settings!.MaxConnections)
                    LogMaxConnectionsKept(_settings.MaxConnections, settings.MaxConnections);
                if (settings.PortMin != _settings.PortMin || settings.PortMax != _settings.PortMax)
                    UsePorts(_datapath, settings);
                _settings = settings with { MaxConnections = _settings.MaxConnections };
                return;
            }
            // Pins left by a process that was killed: the ports it reserved are this one's to give back.
            var takingOver = _pinDirectory is not null && Directory.Exists(_pinDirectory);
            var datapath = Open(settings);
            try
            {
                UsePorts(datapath, settings);
                if (takingOver)
                    _reservedPorts!.Or(Range(settings));
                Adopt(datapath);
            }
            catch
            {
                datapath.Dispose();
                throw;
            }
            _datapath = datapath;
            _settings = settings;
            _sweeper = _time.CreateTimer(_ => Sweep(), null, FlowSweeper.Interval, FlowSweeper.Interval);
            LogStarted(_pinDirectory ?? "(not pinned)", settings.PortMin, settings.PortMax, settings.MaxConnections, _adoptedListeners.Count);
        }
    }

    private IFullnatDatapath Open(PacketEngineSettings settings)
    {
        try
        {
            return _open(settings);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new PacketEngineException($"the packet engine needs root, or CAP_BPF and CAP_NET_ADMIN: {e.Message}", e);
        }
        catch (Exception e) when (e is BpfException or IOException or PlatformNotSupportedException)
        {
            throw new PacketEngineException($"the packet engine cannot load its eBPF datapath (tc clsact and BPF, root or CAP_BPF and CAP_NET_ADMIN): {e.Message}", e);
        }
    }

    private void UsePorts(IFullnatDatapath datapath, PacketEngineSettings settings)
    {
        BitArray added;
        try
        {
            added = _ports.Reserve(settings.PortMin, settings.PortMax);
            if (_reservedPorts is { } old)
            {
                // A new range: what the old one added and the new one does not cover goes back.
                var range = Range(settings);
                _ports.Release(new BitArray(old).And(new BitArray(range).Not()));
                added.Or(old.And(range));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PacketEngineException($"the packet engine cannot reserve its ports {settings.PortMin}-{settings.PortMax} "
                + $"in net.ipv4.ip_local_reserved_ports: {e.Message}", e);
        }
        _reservedPorts = added;
        datapath.SetConfig(new PacketAbi.Config { PortMin = (ushort)settings.PortMin, PortMax = (ushort)settings.PortMax });
        var (min, max) = _ports.EphemeralRange();
        if (settings.PortMin <= max && min <= settings.PortMax)
            LogPortsOverlap(settings.PortMin, settings.PortMax, min, max);
    }

    private static BitArray Range(PacketEngineSettings settings)
    {
        var range = new BitArray(65536);
        for (var port = settings.PortMin; port <= settings.PortMax; port++)
            range[port] = true;
        return range;
    }

    /// <summary>Reads the flows a previous process left, so their listeners and backends get their ids back.</summary>
    private void Adopt(IFullnatDatapath datapath)
    {
        foreach (var (key, conn) in datapath.Flows())
        {
            if ((conn.Flags & PacketAbi.ConnForward) == 0 || conn.Listener >= PacketAbi.MaxListeners || conn.Backend >= PacketAbi.MaxBackends)
                continue;
            _adoptedListeners.TryAdd(AbiAddresses.Destination(key), conn.Listener);
            _adoptedBackends.TryAdd((conn.Listener, AbiAddresses.Destination(conn.Rewrite)), conn.Backend);
            if (_heldListenerIds.Add(conn.Listener))
                _listenerIds[conn.Listener] = true;
            if (_heldBackendIndexes.Add(conn.Backend))
                _backendIndexes[conn.Backend] = true;
        }
    }

    /// <inheritdoc />
    public void Apply(IReadOnlyList<PacketListener> listeners)
    {
        ArgumentNullException.ThrowIfNull(listeners);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_datapath is not { } datapath)
            {
                if (listeners.Count == 0)
                    return;
                throw new InvalidOperationException("the packet engine was not prepared");
            }
            var plans = Plan(listeners);
            Commit(datapath, plans);
        }
    }

    /// <summary>Everything Apply will write, resolved and checked before anything changes; every problem in one exception.</summary>
    private List<ListenerPlan> Plan(IReadOnlyList<PacketListener> listeners)
    {
        var links = _network.Links();
        var addresses = _network.Addresses();
        var problems = new List<string>();
        var plans = new List<ListenerPlan>();
        var vips = new HashSet<IPEndPoint>();
        foreach (var listener in listeners)
        {
            if (plans.Any(p => p.Name == listener.Name))
                problems.Add($"listener {listener.Name}: named twice");
            else if (!vips.Add(Normal(listener.EndPoint)))
                problems.Add($"listener {listener.Name}: {listener.EndPoint} is another packet listener's address too");
            else if (Plan(listener, links, addresses, problems) is { } plan)
                plans.Add(plan);
        }

        var newListeners = plans.Count(p => !_listeners.ContainsKey(p.Name) && !Adoptable(p.EndPoint, out _));
        var freeIds = _listenerIds.Count(taken => !taken);
        if (newListeners > freeIds)
            problems.Add($"the packet engine runs at most {PacketAbi.MaxListeners} listeners (those stopped count while their connections last)");
        var newBackends = plans.Sum(p => p.Backends.Count(b => !_backends.ContainsKey((p.Name, b.EndPoint))));
        if (newBackends > _backendIndexes.Count(taken => !taken))
            problems.Add($"the packet engine has room for {PacketAbi.MaxBackends} backends (those removed count while their connections last)");
        // One region stays free, so that any table can change while the others keep theirs.
        if (plans.Count(p => p.Slots.Length > 0) > PacketAbi.TableRegions - 1)
            problems.Add($"the packet engine holds at most {PacketAbi.TableRegions - 1} listeners with backends taking connections");
        if (problems.Count > 0)
            throw new PacketEngineException(string.Join("; ", problems));
        return plans;
    }

    private ListenerPlan? Plan(PacketListener listener, IReadOnlyList<LinkInfo> links, IReadOnlyList<LocalAddress> addresses, List<string> problems)
    {
        var before = problems.Count;
        void Problem(string text) => problems.Add($"listener {listener.Name}: {text}");

        var vip = Normal(listener.EndPoint);
        var family = vip.AddressFamily;
        var vipInterfaces = addresses.Where(a => a.Address.Equals(vip.Address)).Select(a => a.Interface).ToList();
        if (vipInterfaces.Count == 0)
            Problem($"{vip.Address} is not an address of this host (a packet listener's address must be local)");

        var toa = PacketAbi.ToaFormat.None;
        var toaLength = 0;
        if (listener.Toa.Format is { } format)
        {
            toa = format switch
            {
                ToaFormat.Tencent => PacketAbi.ToaFormat.Tencent,
                ToaFormat.Dpvs => PacketAbi.ToaFormat.Dpvs,
                _ => PacketAbi.ToaFormat.None,
            };
            if (toa == PacketAbi.ToaFormat.None || !format.TryLayoutFor(family, out var layout))
                Problem($"the packet engine writes no {format.Name()} TOA");
            else
                toaLength = layout.Length();
            if (listener.Toa.OnSyn)
                Problem("the packet engine writes no TOA on the SYN (toaOnSyn)");
        }

        var endPoints = listener.Backends.Select(Normal).ToList();
        var distinct = endPoints.Distinct().ToList();
        // The datapath rewrites toward IPv4 only: IPv4 to IPv4, or IPv6 to IPv4 (NAT64).
        if (distinct.Any(b => b.AddressFamily != AddressFamily.InterNetwork))
            Problem("the packet engine forwards to IPv4 backends only (an IPv6 listener in front of them translates: NAT64)");
        var flags = family == AddressFamily.InterNetworkV6 ? PacketAbi.VipNat64 : (byte)0;

        // Client side (the VIP's) and backend side (the routes'); named interfaces count as both.
        var interfaces = new HashSet<int>();
        var backendSide = new HashSet<int>();
        if (listener.Interfaces is { } names)
        {
            foreach (var name in names)
            {
                if (links.FirstOrDefault(l => l.Name == name) is { } link)
                    interfaces.Add(link.Index);
                else
                    Problem($"there is no interface named {name}");
            }
        }
        else
        {
            var carriers = vipInterfaces.Where(i => links.Any(l => l.Index == i && !l.Loopback)).ToList();
            if (vipInterfaces.Count > 0 && carriers.Count == 0)
                Problem($"{vip.Address} is on the loopback interface only: name the interfaces clients arrive on (\"interfaces\")");
            interfaces.UnionWith(carriers);
        }

        var backends = new List<(IPEndPoint EndPoint, PacketAbi.Backend Entry)>();
        foreach (var backend in distinct)
        {
            var route = _network.RouteTo(backend.Address);
            if (route is null)
            {
                Problem($"there is no route to backend {backend}");
                continue;
            }
            if (route.Local)
            {
                Problem($"backend {backend} is an address of this host (the packet engine forwards to other hosts)");
                continue;
            }
            var snat = (backend.AddressFamily == AddressFamily.InterNetwork ? listener.Snat4 : listener.Snat6) ?? route.PreferredSource;
            if (snat is null || snat.AddressFamily != backend.AddressFamily)
            {
                Problem($"no source address toward backend {backend} (set snat)");
                continue;
            }
            backendSide.Add(route.OutputInterface);
            backends.Add((backend, BackendEntry(backend, snat)));
        }

        var clientSide = interfaces.ToHashSet();
        if (listener.Interfaces is null)
            interfaces.UnionWith(backendSide);
        else
            backendSide = clientSide;

        // bpf_fib_lookup, which forwards the rewritten packets, answers only where the kernel would forward.
        foreach (var link in links.Where(l => interfaces.Contains(l.Index)))
            foreach (var f in new[] { family, AddressFamily.InterNetwork }.Distinct())
                if (!_network.Forwards(link.Name, f))
                    Problem($"{link.Name} does not forward {(f == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} (set net.{Routes.SysctlFamily(f)}.conf.{link.Name}.forwarding=1)");

        // The MSS both ends announce is clamped so a full segment fits each side's MTU: the client's
        // side with its own headers, the backend's with IPv4's and the TOA the datapath adds there.
        int? Mtu(HashSet<int> side) => links.Where(l => side.Contains(l.Index) && l.Mtu > 0).Select(l => (int?)l.Mtu).Min();
        var mss = 0;
        if (Mtu(clientSide) is { } clientMtu && Mtu(backendSide) is { } backendMtu)
        {
            mss = Math.Min(clientMtu - (family == AddressFamily.InterNetworkV6 ? Ipv6Header : Ipv4Header) - TcpHeader,
                backendMtu - Ipv4Header - TcpHeader - toaLength);
            if (mss < MinimumMss)
                Problem($"the MTU of its interfaces ({Math.Min(clientMtu, backendMtu)}) leaves segments of {mss} bytes, fewer than {MinimumMss}");
        }

        var slots = Array.Empty<int>();
        if (listener.Table.Count > 0)
        {
            if (listener.Table.Count != PacketListener.TableSize || listener.Table.Any(i => i < 0 || i >= endPoints.Count))
                Problem($"its table is not {PacketListener.TableSize} indexes into its {endPoints.Count} backends");
            else
                slots = [.. listener.Table.Select(i => backends.FindIndex(b => b.EndPoint.Equals(endPoints[i])))];
        }

        if (problems.Count > before)
            return null;
        var vipEntry = new PacketAbi.Vip
        {
            Backends = (uint)slots.Distinct().Count(),
            Mss = (ushort)Math.Max(mss, 0),
            Toa = toa,
            Flags = flags,
        };
        return new ListenerPlan(listener.Name, vip, listener.IdleTimeout, vipEntry, backends, slots, [.. interfaces.Order()]);
    }

    private static unsafe PacketAbi.Backend BackendEntry(IPEndPoint backend, IPAddress snat)
    {
        var entry = new PacketAbi.Backend { Port = AbiAddresses.Port(backend.Port), Family = AbiAddresses.Family(backend.Address) };
        AbiAddresses.Write(backend.Address, entry.Addr);
        AbiAddresses.Write(snat, entry.Snat);
        return entry;
    }

    private static IPEndPoint Normal(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;

    private bool Adoptable(IPEndPoint vip, out uint id) =>
        _adoptedListeners.TryGetValue(vip, out id) && _heldListenerIds.Contains(id);

    private void Commit(IFullnatDatapath datapath, List<ListenerPlan> plans)
    {
        var names = plans.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var retiring = _listeners.Values.Where(l => !names.Contains(l.Name)).ToList();
        var wanted = plans.SelectMany(p => p.Interfaces).Concat(retiring.SelectMany(l => l.Interfaces)).ToHashSet();

        // Attached first, so a failure leaves the listeners as they were.
        var attached = new List<int>();
        try
        {
            foreach (var ifindex in wanted.Where(i => !_attachedHere.Contains(i)).Order())
            {
                datapath.Attach(ifindex);
                attached.Add(ifindex);
            }
        }
        catch (Exception e)
        {
            foreach (var ifindex in attached)
                datapath.Detach(ifindex);
            throw new PacketEngineException($"the packet engine cannot attach to interface {InterfaceName(wanted.Except(attached).Order().First())}: {e.Message}", e);
        }
        _attachedHere.UnionWith(attached);

        // Addresses no listener has any more; removed last, as another listener may have just taken one.
        var stale = new Dictionary<IPEndPoint, PacketAbi.VipKey>();
        foreach (var plan in plans)
            Commit(datapath, plan, stale);
        foreach (var listener in retiring.Where(l => !l.Retired))
        {
            stale.TryAdd(listener.EndPoint, listener.Key);
            FreeRegion(listener);
            listener.VipWritten = false;
            listener.Retired = true;
            listener.RetiredAt = _generation;
            foreach (var backend in BackendsOf(listener.Name))
                Retire(backend);
            LogListenerStopped(listener.Name, listener.EndPoint);
        }
        foreach (var (endPoint, key) in stale)
            if (!plans.Any(p => p.EndPoint.Equals(endPoint)))
                datapath.RemoveVip(key);
        DetachUnwanted(datapath, wanted);
    }

    private void Commit(IFullnatDatapath datapath, ListenerPlan plan, Dictionary<IPEndPoint, PacketAbi.VipKey> stale)
    {
        if (!_listeners.TryGetValue(plan.Name, out var state))
        {
            var adopted = Adoptable(plan.EndPoint, out var id);
            if (adopted)
                _heldListenerIds.Remove(id);
            else
                id = (uint)Array.IndexOf(_listenerIds, false);
            _listenerIds[id] = true;
            state = new ListenerState(plan.Name, id, adopted ? new long[PacketAbi.CounterCount] : datapath.ListenerCounts(id));
            _listeners.Add(plan.Name, state);
            LogListenerStarted(plan.Name, plan.EndPoint, id);
        }
        state.Retired = false;
        // A listener that moved: its old address takes no new connections (those established go on).
        if (state.VipWritten && !state.EndPoint.Equals(plan.EndPoint))
        {
            stale.TryAdd(state.EndPoint, state.Key);
            state.VipWritten = false;
        }
        state.EndPoint = plan.EndPoint;
        state.Key = AbiAddresses.VipKey(plan.EndPoint);
        state.IdleTimeout = plan.IdleTimeout;
        state.Interfaces = plan.Interfaces;

        var indexes = new uint[plan.Backends.Count];
        for (var i = 0; i < plan.Backends.Count; i++)
        {
            var (endPoint, entry) = plan.Backends[i];
            entry.Listener = state.Id;
            var backend = Backend(datapath, state, endPoint);
            backend.Retired = false;
            if (!backend.Written.Equals(entry))
            {
                datapath.SetBackend(backend.Index, entry);
                backend.Written = entry;
            }
            indexes[i] = backend.Index;
        }
        var inPlan = plan.Backends.Select(b => b.EndPoint).ToHashSet();
        foreach (var backend in BackendsOf(plan.Name).Where(b => !b.Retired && !inPlan.Contains(b.EndPoint)))
            Retire(backend);

        var slots = plan.Slots.Select(i => indexes[i]).ToArray();
        var vip = plan.Vip;
        vip.Id = state.Id;
        if (!slots.AsSpan().SequenceEqual(state.Slots))
        {
            // The new table goes into a free region first: the VIP then points at one whole table or the other.
            var old = state.Region;
            state.Region = null;
            if (slots.Length > 0)
            {
                var region = Array.IndexOf(_regions, false);
                datapath.SetTable((uint)region, slots);
                _regions[region] = true;
                state.Region = region;
            }
            vip.Region = (uint)(state.Region ?? 0);
            datapath.SetVip(state.Key, vip);
            if (old is { } freed)
                _regions[freed] = false;
            state.Slots = slots;
            state.Vip = vip;
        }
        else
        {
            vip.Region = (uint)(state.Region ?? 0);
            if (!vip.Equals(state.Vip) || !state.VipWritten)
                datapath.SetVip(state.Key, vip);
            state.Vip = vip;
        }
        state.VipWritten = true;
    }

    private BackendState Backend(IFullnatDatapath datapath, ListenerState listener, IPEndPoint endPoint)
    {
        if (_backends.TryGetValue((listener.Name, endPoint), out var backend))
            return backend;
        var adopted = _adoptedBackends.TryGetValue((listener.Id, endPoint), out var index) && _heldBackendIndexes.Remove(index);
        if (!adopted)
            index = (uint)Array.IndexOf(_backendIndexes, false);
        _backendIndexes[index] = true;
        backend = new BackendState(listener.Name, endPoint, index, adopted ? default : datapath.BackendCounts(index));
        _backends.Add((listener.Name, endPoint), backend);
        return backend;
    }

    private IEnumerable<BackendState> BackendsOf(string listener) => _backends.Values.Where(b => b.Listener == listener).ToList();

    private void Retire(BackendState backend)
    {
        if (backend.Retired)
            return;
        backend.Retired = true;
        backend.RetiredAt = _generation;
    }

    private void FreeRegion(ListenerState listener)
    {
        if (listener.Region is { } region)
            _regions[region] = false;
        listener.Region = null;
        listener.Slots = [];
    }

    private void DetachUnwanted(IFullnatDatapath datapath, HashSet<int> wanted)
    {
        foreach (var ifindex in datapath.Attached.Where(i => !wanted.Contains(i)).ToList())
        {
            try
            {
                datapath.Detach(ifindex);
                _attachedHere.Remove(ifindex);
                LogDetached(InterfaceName(ifindex));
            }
            catch (Exception e) when (e is BpfException or IOException)
            {
                LogDetachFailed(InterfaceName(ifindex), e.Message);
            }
        }
    }

    private string InterfaceName(int ifindex)
    {
        try
        {
            return _network.Links().FirstOrDefault(l => l.Index == ifindex)?.Name ?? $"#{ifindex}";
        }
        catch (IOException)
        {
            return $"#{ifindex}";
        }
    }

    /// <summary>One tick of the sweeper: forget idle connections, then ids and indexes nothing uses any more.</summary>
    internal void Sweep()
    {
        lock (_gate)
        {
            if (_disposed || _datapath is not { } datapath)
                return;
            var started = _time.GetTimestamp();
            try
            {
                var generation = ++_generation;
                // Looked up once per sweep, not once per connection.
                var idle = Enumerable.Repeat(ConfigDefaults.IdleTimeout, PacketAbi.MaxListeners).ToArray();
                foreach (var listener in _listeners.Values)
                    idle[listener.Id] = listener.IdleTimeout;
                var result = FlowSweeper.Sweep(datapath, id => id < idle.Length ? idle[id] : ConfigDefaults.IdleTimeout);
                _lastSweep = result;
                Release(datapath, result, generation);
            }
            // A timer's exception would end the process, and with it every packet listener's upkeep.
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogSweepFailed(e);
            }
            var next = FlowSweeper.NextSweep(_time.GetElapsedTime(started));
            if (next != _sweepInterval)
            {
                _sweepInterval = next;
                _sweeper?.Change(next, next);
            }
        }
    }

    private void Release(IFullnatDatapath datapath, SweepResult result, long generation)
    {
        foreach (var id in _heldListenerIds.Where(i => !result.ActivePerListener.ContainsKey(i)).ToList())
        {
            _heldListenerIds.Remove(id);
            _listenerIds[id] = false;
        }
        foreach (var index in _heldBackendIndexes.Where(i => !result.ActivePerBackend.ContainsKey(i)).ToList())
        {
            _heldBackendIndexes.Remove(index);
            _backendIndexes[index] = false;
        }
        // Retired before this sweep began: a connection made from the old table is in the flows it read.
        foreach (var backend in _backends.Values.Where(b => b.Retired && b.RetiredAt < generation && !result.ActivePerBackend.ContainsKey(b.Index)).ToList())
        {
            _backends.Remove((backend.Listener, backend.EndPoint));
            _backendIndexes[backend.Index] = false;
        }
        var gone = _listeners.Values
            .Where(l => l.Retired && l.RetiredAt < generation && !result.ActivePerListener.ContainsKey(l.Id) && !_backends.Values.Any(b => b.Listener == l.Name))
            .ToList();
        foreach (var listener in gone)
        {
            _listeners.Remove(listener.Name);
            _listenerIds[listener.Id] = false;
        }
        if (gone.Count > 0)
            DetachUnwanted(datapath, _listeners.Values.SelectMany(l => l.Interfaces).ToHashSet());
    }

    /// <inheritdoc />
    public PacketCounts Counts()
    {
        lock (_gate)
        {
            var listeners = new Dictionary<string, PacketListenerCounts>(StringComparer.Ordinal);
            var backends = new Dictionary<(string, IPEndPoint), PacketBackendCounts>();
            if (_datapath is not { } datapath || _disposed)
                return new PacketCounts(listeners, backends);
            foreach (var listener in _listeners.Values)
            {
                var raw = datapath.ListenerCounts(listener.Id);
                long C(PacketAbi.Counter c) => raw[(int)c] - listener.Baseline[(int)c];
                listeners[listener.Name] = new PacketListenerCounts(
                    C(PacketAbi.Counter.Connections), _lastSweep.ActivePerListener.GetValueOrDefault(listener.Id),
                    C(PacketAbi.Counter.PacketsIn), C(PacketAbi.Counter.PacketsOut), C(PacketAbi.Counter.BytesIn), C(PacketAbi.Counter.BytesOut),
                    C(PacketAbi.Counter.ToaWritten), C(PacketAbi.Counter.ToaNoRoom), C(PacketAbi.Counter.ToaRemoved),
                    C(PacketAbi.Counter.TableFull), C(PacketAbi.Counter.NoBackend), C(PacketAbi.Counter.NoPort), C(PacketAbi.Counter.NoRoute),
                    C(PacketAbi.Counter.MssClamped), C(PacketAbi.Counter.PortReused));
            }
            foreach (var backend in _backends.Values)
            {
                var raw = datapath.BackendCounts(backend.Index);
                backends[(backend.Listener, backend.EndPoint)] = new PacketBackendCounts(
                    (long)(raw.Connections - backend.Baseline.Connections), _lastSweep.ActivePerBackend.GetValueOrDefault(backend.Index),
                    (long)(raw.BytesIn - backend.Baseline.BytesIn), (long)(raw.BytesOut - backend.Baseline.BytesOut));
            }
            return new PacketCounts(listeners, backends);
        }
    }

    /// <summary>
    /// A graceful stop: the program leaves every interface, the pins go and the ports are given back,
    /// so the packet listeners stop with their connections. A process killed leaves all of it in place
    /// for the next start to take over.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        ITimer? sweeper;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            sweeper = _sweeper;
        }
        if (sweeper is not null)
            await sweeper.DisposeAsync();
        lock (_gate)
        {
            if (_datapath is not { } datapath)
                return;
            foreach (var ifindex in datapath.Attached.ToList())
                Try(() => datapath.Detach(ifindex), $"detach from {InterfaceName(ifindex)}");
            datapath.Dispose();
            _datapath = null;
            if (_removePins is { } removePins)
                Try(removePins, $"remove its pins in {_pinDirectory}");
            if (_reservedPorts is { } reserved)
                Try(() => _ports.Release(reserved), "release its ports in net.ipv4.ip_local_reserved_ports");
            LogStopped();
        }
    }

    private void Try(Action action, string what)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is BpfException or IOException or UnauthorizedAccessException)
        {
            LogStopFailed(what, e.Message);
        }
    }

    private sealed record ListenerPlan(
        string Name, IPEndPoint EndPoint, TimeSpan IdleTimeout, PacketAbi.Vip Vip,
        List<(IPEndPoint EndPoint, PacketAbi.Backend Entry)> Backends, int[] Slots, int[] Interfaces);

    private sealed class ListenerState(string name, uint id, long[] baseline)
    {
        public string Name { get; } = name;
        public uint Id { get; } = id;
        public long[] Baseline { get; } = baseline;
        public IPEndPoint EndPoint { get; set; } = null!;
        public PacketAbi.VipKey Key { get; set; }
        public PacketAbi.Vip Vip { get; set; }
        public bool VipWritten { get; set; }
        public TimeSpan IdleTimeout { get; set; }
        public int? Region { get; set; }
        public uint[] Slots { get; set; } = [];
        public int[] Interfaces { get; set; } = [];
        public bool Retired { get; set; }
        public long RetiredAt { get; set; }
    }

    private sealed class BackendState(string listener, IPEndPoint endPoint, uint index, PacketAbi.BackendCounts baseline)
    {
        public string Listener { get; } = listener;
        public IPEndPoint EndPoint { get; } = endPoint;
        public uint Index { get; } = index;
        public PacketAbi.BackendCounts Baseline { get; } = baseline;
        public PacketAbi.Backend Written { get; set; }
        public bool Retired { get; set; }
        public long RetiredAt { get; set; }
    }

    [LoggerMessage(EventId = 700, EventName = "PacketEngineStarted", Level = LogLevel.Information,
        Message = "packet engine: maps in {Pins}, local ports {PortMin}-{PortMax}, up to {MaxConnections} connections; {Adopted} listeners' connections taken over")]
    private partial void LogStarted(string pins, int portMin, int portMax, int maxConnections, int adopted);

    [LoggerMessage(EventId = 701, EventName = "PacketPortsOverlap", Level = LogLevel.Warning,
        Message = "packet engine: its local ports {PortMin}-{PortMax} overlap the kernel's ephemeral range {EphemeralMin}-{EphemeralMax} "
            + "(net.ipv4.ip_local_port_range); they are reserved, so the host's own connections have fewer ports left")]
    private partial void LogPortsOverlap(int portMin, int portMax, int ephemeralMin, int ephemeralMax);

    [LoggerMessage(EventId = 702, EventName = "PacketMaxConnectionsKept", Level = LogLevel.Warning,
        Message = "packet engine: maxConnections stays {Running} until a restart (the configuration now says {Configured}): the flow table's size is fixed once made")]
    private partial void LogMaxConnectionsKept(int running, int configured);

    [LoggerMessage(EventId = 703, EventName = "PacketListenerStarted", Level = LogLevel.Information,
        Message = "packet listener {Listener} on {EndPoint} (id {Id})")]
    private partial void LogListenerStarted(string listener, IPEndPoint endPoint, uint id);

    [LoggerMessage(EventId = 704, EventName = "PacketListenerStopped", Level = LogLevel.Information,
        Message = "packet listener {Listener} on {EndPoint} takes no new connections; established ones go on until they end")]
    private partial void LogListenerStopped(string listener, IPEndPoint endPoint);

    [LoggerMessage(EventId = 705, EventName = "PacketDetached", Level = LogLevel.Information,
        Message = "packet engine: detached from {Interface}, which no listener needs any more")]
    private partial void LogDetached(string @interface);

    [LoggerMessage(EventId = 706, EventName = "PacketDetachFailed", Level = LogLevel.Warning,
        Message = "packet engine: cannot detach from {Interface}: {Reason}")]
    private partial void LogDetachFailed(string @interface, string reason);

    [LoggerMessage(EventId = 707, EventName = "PacketSweepFailed", Level = LogLevel.Error,
        Message = "packet engine: sweeping idle connections failed; the next sweep tries again")]
    private partial void LogSweepFailed(Exception exception);

    [LoggerMessage(EventId = 708, EventName = "PacketEngineStopped", Level = LogLevel.Information,
        Message = "packet engine stopped: detached, its maps and ports released, its connections ended")]
    private partial void LogStopped();

    [LoggerMessage(EventId = 709, EventName = "PacketStopFailed", Level = LogLevel.Warning,
        Message = "packet engine: stopping, cannot {What}: {Reason}")]
    private partial void LogStopFailed(string what, string reason);
}
