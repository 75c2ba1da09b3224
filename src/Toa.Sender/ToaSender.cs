// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toa.Bpf;
using Toa.Bpf.Features;
using Toa.Wire;

namespace Toa.Sender;

/// <summary>
/// Makes this process's outgoing TCP connections carry TOA options. Starting it
/// loads the sender program, attaches it to a cgroup of its own and moves the
/// process there (programs see sockets by the cgroup that created them);
/// disposing moves the process back and removes everything. Sockets created
/// while it runs carry the options they are given with <see cref="Attach"/>.
/// A connection's state lives in socket storage until connect() and then, until
/// it closes, in the connections map (about 128 bytes a connection instead of 400),
/// which holds <c>connections</c> at most; beyond, the state stays in socket storage.
/// </summary>
/// <remarks>
/// The sender's cgroup is a child of the one the process started in, not of the root: a
/// service unit's cgroup (systemd's <c>MemoryMax=</c>, <c>TasksMax=</c>, <c>IPAddressDeny=</c>)
/// covers its descendants, so the process stays under its unit's limits.
/// </remarks>
public sealed class ToaSender : IDisposable
{
    private const string CgroupPrefix = "toa-sender-";

    /// <summary>Connections whose state the connections map holds at most, unless told otherwise.</summary>
    public const int DefaultConnections = 16384;

    private readonly BpfObject _object;
    private readonly BpfLink _writes;
    private readonly BpfLink _attaches;
    private readonly BpfMap _storage;
    private readonly BpfMap _connections;
    private readonly BpfMap _counts;
    private readonly BpfMap _failures;
    private readonly Cgroup _home;
    private readonly ILogger _logger;
    private bool _disposed;

    private ToaSender(BpfObject obj, BpfLink writes, BpfLink attaches, Cgroup cgroup, Cgroup home, ILogger logger)
    {
        _object = obj;
        _writes = writes;
        _attaches = attaches;
        _storage = obj.Map(SenderAbi.StorageMap);
        _connections = obj.Map(SenderAbi.ConnectionsMap);
        _counts = obj.Map(SenderAbi.CountsMap);
        _failures = obj.Map(SenderAbi.FailuresMap);
        Cgroup = cgroup;
        _home = home;
        _logger = logger;
    }

    /// <summary>The cgroup this process runs in while the sender is active.</summary>
    public Cgroup Cgroup { get; }

    /// <summary>How many counter slots there are (the program's TOA_SEND_SLOTS): a slot is 0 to <c>CounterSlots - 1</c>.</summary>
    public int CounterSlots => (int)_counts.MaxEntries;

    /// <summary>Connections whose state the connections map holds at most (Start's <c>connections</c>).</summary>
    public int ConnectionCapacity => (int)_connections.MaxEntries;

    /// <summary>Connections whose state is in the connections map now: a walk of the map, for diagnostics.</summary>
    public int ConnectionsHeld => _connections.Keys<ulong>().Count();

    /// <summary>
    /// Loads and attaches the sender and moves this process into its cgroup. On a kernel
    /// without a feature the sender needs it throws <see cref="MissingKernelFeatureException"/>
    /// before touching anything. <paramref name="connections"/> sizes the connections map: its
    /// buckets (16 bytes each, to the next power of two) are allocated now, its entries as
    /// connections come.
    /// </summary>
    public static ToaSender Start(ILogger? logger = null, int connections = DefaultConnections)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(connections, 1);
        logger ??= NullLogger.Instance;
        FeatureProbes.Current.Require(KernelFeatures.Sender);
        var pid = Environment.ProcessId;
        var home = Cgroup.OfProcess(pid);
        RemoveStale(home, logger);
        var obj = BpfObject.OpenEmbedded(typeof(ToaSender).Assembly, SenderAbi.ObjectResource);
        Cgroup? cgroup = null;
        BpfLink? writes = null, attaches = null;
        try
        {
            obj.Map(SenderAbi.ConnectionsMap).MaxEntries = (uint)connections;
            obj.Load();
            cgroup = home.CreateChild(CgroupPrefix + pid);
            using (var dir = cgroup.Open())
            {
                writes = obj.Program(SenderAbi.Program).AttachCgroup(dir);
                attaches = obj.Program(SenderAbi.AttachProgram).AttachCgroup(dir);
            }
            cgroup.AddProcess(pid);
            logger.LogDebug("sender attached to {Cgroup}", cgroup.Path);
            return new ToaSender(obj, writes, attaches, cgroup, home, logger);
        }
        catch
        {
            attaches?.Dispose();
            writes?.Dispose();
            cgroup?.Remove();
            obj.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Gives <paramref name="socket"/> the options to write; call before <c>Connect</c>.
    /// The socket must have been created while the sender was running. Whether its handshake
    /// carried them is counted in <paramref name="counterSlot"/> (see <see cref="Counts"/>).
    /// The options travel in the socket's TCP_NODELAY setsockopt, which sets TCP_NODELAY to
    /// <paramref name="noDelay"/> as well: a client that wants it pays no call for the options.
    /// With <paramref name="reportAfterClose"/> the state stays in the socket's storage, where
    /// <see cref="Report"/> finds it after the connection closed too; otherwise it goes with the
    /// connection, so a socket that connects again after a failed connect() needs attaching again.
    /// </summary>
    /// <exception cref="SocketException">The kernel refused (EPERM: no memory for the socket's storage).</exception>
    public unsafe void Attach(Socket socket, ReadOnlySpan<ToaAddress> options, ToaPlacement placement, int counterSlot = 0, bool noDelay = false,
        bool reportAfterClose = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(counterSlot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(counterSlot, CounterSlots);
        if (options.Length is 0 or > SenderAbi.MaxOptions)
            throw new ArgumentException($"between 1 and {SenderAbi.MaxOptions} options can be sent, not {options.Length}");
        SenderAbi.Attach value = default;
        var total = 0;
        foreach (var option in options)
            total += option.Layout.Length();
        if (total > SenderAbi.TcpOptionSpace)
            throw new ArgumentException(
                $"{total} bytes of TOA ({string.Join(" + ", options.ToArray().Select(o => o.Layout.Describe()))}) exceed the {SenderAbi.TcpOptionSpace} bytes of TCP option space");
        var buffer = new Span<byte>(value.Options, SenderAbi.TcpOptionSpace);
        for (int i = 0, at = 0; i < options.Length; i++)
            at += options[i].Encode(buffer[at..]);
        value.OptionCount = (byte)options.Length;
        value.TotalLen = (byte)total;
        value.Placement = (byte)placement;
        value.Slot = (byte)counterSlot;
        value.Flags = reportAfterClose ? SenderAbi.AttachStay : (byte)0;
        value.NoDelay = noDelay ? 1 : 0;
        value.Magic = SenderAbi.AttachMagic;
        socket.SetRawSocketOption((int)SocketOptionLevel.Tcp, (int)SocketOptionName.NoDelay,
            new ReadOnlySpan<byte>(&value, sizeof(SenderAbi.Attach)));
    }

    /// <summary>The connections counted in <paramref name="slot"/> so far, summed over every CPU.</summary>
    public unsafe ToaSendCounts Counts(int slot)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long written = 0, noRoom = 0, missing = 0, inStorage = 0;
        foreach (var cpu in _counts.LookupPerCpu<int, SenderAbi.Counts>(slot))
        {
            written += (long)cpu.Outcomes[(int)SenderAbi.Outcome.Written];
            noRoom += (long)cpu.Outcomes[(int)SenderAbi.Outcome.NoRoom];
            missing += (long)cpu.Outcomes[(int)SenderAbi.Outcome.Missing];
            inStorage += (long)cpu.InStorage;
        }
        return new ToaSendCounts(written, noRoom, missing, inStorage);
    }

    /// <summary>The last connection counted in <paramref name="slot"/> that went without its options; null if none did.</summary>
    public unsafe ToaSendFailure? LastFailure(int slot)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_failures.TryLookup(slot, out SenderAbi.Failure f) || f.Outcome == (byte)SenderAbi.Outcome.Written)
            return null;
        var length = f.Family == SenderAbi.AfInet6 ? 16 : 4;
        var local = new IPAddress(new ReadOnlySpan<byte>(f.LocalIp, length));
        var remote = new IPAddress(new ReadOnlySpan<byte>(f.RemoteIp, length));
        return new ToaSendFailure(new IPEndPoint(local, f.LocalPort), new IPEndPoint(remote, f.RemotePort),
            (ToaSendFailureKind)f.Outcome, (ToaPlacement)f.Placements, f.TotalLen);
    }

    /// <summary>
    /// What the program has written for <paramref name="socket"/> so far: from the socket's storage
    /// (before connect(), or where the state stayed), else from the connections map by the socket's
    /// cookie. Once the connection closed, nothing unless it was attached with <c>reportAfterClose</c>.
    /// </summary>
    public ToaSendReport Report(Socket socket)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_storage.TryLookup((int)socket.Handle, out SenderAbi.ToaSend s) && !_connections.TryLookup(Cookie(socket), out s))
            return new ToaSendReport(ToaPlacement.None, ToaPlacement.None, ToaPlacement.None, 0, 0);
        return new ToaSendReport((ToaPlacement)s.Placement, (ToaPlacement)s.Written, (ToaPlacement)s.NoSpace,
            s.TotalLen, (int)s.Packets);
    }

    /// <summary>Whether <paramref name="socket"/>'s state is in its socket storage (not moved to the connections map).</summary>
    internal bool InSocketStorage(Socket socket) => _storage.TryLookup((int)socket.Handle, out SenderAbi.ToaSend _);

    private static ulong Cookie(Socket socket)
    {
        Span<byte> cookie = stackalloc byte[sizeof(ulong)];
        socket.GetRawSocketOption(SenderAbi.SolSocket, SenderAbi.SoCookie, cookie);
        return BitConverter.ToUInt64(cookie);
    }

    /// <summary>Moves the process home, detaches the program and removes the cgroup.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _home.AddProcess(Environment.ProcessId);
        _attaches.Dispose();
        _writes.Dispose();
        _object.Dispose();
        TryRemove(Cgroup, _logger);
    }

    // A sender killed without cleanup leaves an empty cgroup behind; the next one started from the same cgroup removes it.
    private static void RemoveStale(Cgroup home, ILogger logger)
    {
        foreach (var child in home.Children())
        {
            var name = Path.GetFileName(child.Path);
            if (name.StartsWith(CgroupPrefix, StringComparison.Ordinal)
                && int.TryParse(name.AsSpan(CgroupPrefix.Length), out var pid) && !IsRunning(pid)
                && child.Processes().Count == 0)
                TryRemove(child, logger);
        }
    }

    /// <summary>
    /// The cgroup a sender started by process <paramref name="pid"/> from <paramref name="home"/>
    /// left behind (when the process was killed), or null: for whoever started and killed it.
    /// </summary>
    public static Cgroup? LeftBehind(Cgroup home, int pid) =>
        home.Children().FirstOrDefault(c => Path.GetFileName(c.Path) == CgroupPrefix + pid);

    private static bool IsRunning(int pid) => Directory.Exists($"/proc/{pid}");

    private static void TryRemove(Cgroup cgroup, ILogger logger)
    {
        try
        {
            cgroup.Remove();
        }
        catch (IOException e)
        {
            logger.LogWarning("could not remove cgroup {Cgroup}: {Reason}", cgroup.Path, e.Message);
        }
    }
}
