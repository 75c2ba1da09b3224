// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Toa.Balancer.Configuration;
using Toa.Balancer.Metrics;
using Toa.Balancer.Model;
using Toa.Balancer.Scheduling;

namespace Toa.Balancer.Relay;

/// <summary>
/// One listener and its pool: accepts clients on every event loop (the kernel wakes one loop per
/// new connection), picks a backend for each, and runs the client's <see cref="RelayConnection"/>
/// on the loop that accepted it. The listening socket belongs to the host, which keeps it by
/// address across reloads and hands it to whichever listener has that address next.
/// </summary>
internal sealed partial class ListenerRuntime : IAsyncDisposable
{
    /// <summary>Most clients one loop accepts per wake-up, so that one busy listener cannot starve its loop's connections.</summary>
    private const int AcceptBatch = 64;

    private static readonly TimeSpan s_acceptPause = TimeSpan.FromMilliseconds(100);

    /// <summary>How often running out of descriptors is logged, at most, per listener.</summary>
    internal static readonly TimeSpan DescriptorWarningInterval = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly Random _random;
    private readonly Lock _choosing = new();
    private readonly Acceptor[] _acceptors;
    private volatile ListenerSettings _settings;
    private volatile ISchedulingPolicy _policy;

    /// <summary>A listener on <paramref name="socket"/>, which listens already and is non-blocking.</summary>
    public ListenerRuntime(ListenerSettings settings, Socket socket, HostContext context)
    {
        Context = context;
        Name = settings.Name;
        Logger = context.LoggerFactory.CreateLogger("Toa.Balancer.Relay");
        Metrics = context.Metrics.For(Name);
        Pool = new BackendPool(Name, context.Probe, context.Time, context.LoggerFactory.CreateLogger("Toa.Balancer.Health"), context.Metrics);
        _random = context.RandomFactory();
        _settings = settings;
        _policy = SchedulingPolicies.Find(context.Policies, settings.Scheduler);
        _socket = socket;
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _acceptors = [.. context.Loops.Select(loop => new Acceptor(this, loop))];
        Pool.Apply(settings);
        OutOfDescriptors = new WarningThrottle(context.Time, DescriptorWarningInterval);
    }

    /// <summary>Counts the accepts and backend sockets that failed for want of descriptors, and says when to log them.</summary>
    public WarningThrottle OutOfDescriptors { get; }

    public HostContext Context { get; }

    public string Name { get; }

    public ILogger Logger { get; }

    public ListenerMetrics Metrics { get; }

    public BackendPool Pool { get; }

    public ListenerSettings Settings => _settings;

    /// <summary>The bound address (the real port when the configuration said 0).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Starts accepting on every loop.</summary>
    public void Start()
    {
        foreach (var acceptor in _acceptors)
            acceptor.Loop.Post(static a => ((Acceptor)a!).Watch(), acceptor);
    }

    /// <summary>Takes reloaded settings (same name and address); returns the removed backends' checkers to dispose.</summary>
    public IReadOnlyList<IAsyncDisposable> Apply(ListenerSettings settings)
    {
        _policy = SchedulingPolicies.Find(Context.Policies, settings.Scheduler);
        _settings = settings;
        return Pool.Apply(settings);
    }

    /// <summary>A client accepted on <paramref name="loop"/>: refused, or relayed on that loop.</summary>
    private void Dispatch(int fd, IPEndPoint accepted, EventLoop loop)
    {
        Metrics.Total.Inc();
        var clientEndPoint = Endpoints.Unmap(accepted);
        if (Context.Connections.TryEnter(clientEndPoint.Address, out var sourceCounted) is { } limit)
        {
            Refuse(fd, clientEndPoint, limit);
            return;
        }
        var settings = _settings;
        Backend? backend;
        string reason;
        // The policy and its randomness are used from one thread at a time.
        lock (_choosing)
            (backend, reason) = Choose(clientEndPoint, Pool.Available);
        if (backend is null)
        {
            Context.Connections.Exit(clientEndPoint.Address, sourceCounted);
            Refuse(fd, clientEndPoint, reason);
            return;
        }
        Metrics.Active.Inc();
        new RelayConnection(this, settings, loop, fd, clientEndPoint, sourceCounted, backend).Start();
    }

    /// <summary>
    /// Asks the policy, and again while its choice is at its connection limit (as many times as
    /// there are candidates). Consistent hashing keeps choosing the same backend, so a full one
    /// refuses the client rather than breaking affinity.
    /// </summary>
    private (Backend? Backend, string Reason) Choose(IPEndPoint client, BackendSet candidates)
    {
        var policy = _policy;
        for (var attempt = 0; attempt < Math.Max(1, candidates.Count); attempt++)
        {
            if (policy.Pick(new SchedulingContext(client, candidates, _random)) is not { } backend)
                return (null, "no_backend");
            if (backend.TryAcquire())
                return (backend, "");
        }
        return (null, "backend_limit");
    }

    /// <summary>
    /// Another backend, acquired, for a client whose connects to <paramref name="tried"/> failed;
    /// null when the pool has no other that can take it.
    /// </summary>
    public Backend? Redispatch(IPEndPoint client, IReadOnlyList<Backend> tried)
    {
        lock (_choosing)
        {
            var others = new BackendSet(Pool.Available.Where(b => !tried.Contains(b)));
            return others.Count == 0 ? null : Choose(client, others).Backend;
        }
    }

    private void Refuse(int fd, IPEndPoint client, string reason)
    {
        Context.Metrics.Rejected(Name, reason);
        if (_settings.LogTo is { } to)
        {
            Context.Log.Write(to, new ConnectionRecord(Context.Time.GetUtcNow(), Name, LocalEndPoint, client, null, 0, 0, TimeSpan.Zero, 0,
                reason == "no_backend" ? ConnectionEnd.NoBackend : ConnectionEnd.Limit));
        }
        LogRefused(Logger, Name, client, reason);
        Libc.SetAbortiveClose(fd);
        Libc.Close(fd);
    }

    /// <summary>
    /// Stops accepting on every loop; established connections are not touched, and the socket
    /// stays open for the host to close or hand on. The loops stop watching in the order of their
    /// work, so a listener started on the same socket after this call watches it after them. When
    /// this completes, no client of this listener is dispatched any more.
    /// </summary>
    public Task StopAcceptingAsync() => Task.WhenAll(_acceptors.Select(a => a.Loop.InvokeAsync(a.Unwatch)));

    public async ValueTask DisposeAsync()
    {
        await StopAcceptingAsync().ConfigureAwait(false);
        await Pool.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The listening socket as one loop watches it.</summary>
    private sealed class Acceptor(ListenerRuntime listener, EventLoop loop) : IEventHandler
    {
        private int _slot = -1;
        private bool _stopped;
        private ITimer? _pause;

        public EventLoop Loop => loop;

        private int Fd => (int)listener._socket.SafeHandle.DangerousGetHandle();

        public void Watch()
        {
            if (_stopped)
                return;
            if (_slot < 0)
                _slot = loop.Register(this);
            // Level-triggered and exclusive: one waiting loop wakes per new client, and a backlog
            // left after a batch wakes a loop again.
            loop.Add(Fd, Libc.EpollIn | Libc.EpollExclusive, _slot, 0);
        }

        /// <summary>
        /// Stops watching, after taking in the clients whose handshake is already complete:
        /// closing the socket with them in its backlog would reset them.
        /// </summary>
        public void Unwatch()
        {
            if (_stopped)
                return;
            _stopped = true;
            _pause?.Dispose();
            if (_slot < 0)
                return;
            try
            {
                loop.Remove(Fd);
                while (Accept(AcceptBatch))
                {
                }
            }
            catch (IOException)
            {
                // Not watched now: paused after an accept failure.
            }
            loop.Unregister(_slot);
        }

        public void OnEvents(uint events, int tag) => Accept(AcceptBatch);

        /// <summary>Accepts up to <paramref name="most"/> clients; true when there may be more.</summary>
        private unsafe bool Accept(int most)
        {
            var address = stackalloc byte[SocketAddresses.MaxLength];
            for (var i = 0; i < most; i++)
            {
                var length = SocketAddresses.MaxLength;
                var fd = Libc.Accept(Fd, address, &length, Libc.SockNonBlock | Libc.SockCloseOnExec);
                if (fd < 0)
                {
                    var errno = Libc.Errno;
                    if (errno == Libc.EAGAIN)
                        return false;
                    if (errno is Libc.EINTR or Libc.ECONNABORTED)
                        continue; // the client gave up before it was accepted
                    Pause(errno);
                    return false;
                }
                // IPv4 and IPv6 listeners accept nothing else; the check only keeps a descriptor from leaking.
                if (SocketAddresses.Read(new ReadOnlySpan<byte>(address, Math.Min(length, SocketAddresses.MaxLength))) is { } client)
                    listener.Dispatch(fd, client, loop);
                else
                    Libc.Close(fd);
            }
            return true;
        }

        /// <summary>
        /// Out of descriptors and the like: stop watching for a moment (the clients wait in the
        /// backlog) and watch again once the cause may have passed. Out of descriptors is logged
        /// at most once per interval with its count, whichever loop hit it; other errors each time.
        /// </summary>
        private void Pause(int errno)
        {
            if (errno is not (Libc.EMFILE or Libc.ENFILE))
                LogAcceptFailed(listener.Logger, new SocketException(errno), listener.Name);
            else if (listener.OutOfDescriptors.Count() is var count and > 0)
                LogOutOfDescriptors(listener.Logger, listener.Name, count, DescriptorWarningInterval, new SocketException(errno).Message);
            loop.Remove(Fd);
            _pause?.Dispose();
            _pause = listener.Context.Time.CreateTimer(
                static state => ((Acceptor)state!).Loop.Post(static a => ((Acceptor)a!).Watch(), state),
                this, s_acceptPause, Timeout.InfiniteTimeSpan);
        }
    }

    [LoggerMessage(EventId = 310, EventName = "AcceptFailed", Level = LogLevel.Error, Message = "Listener {Listener}: accept failed")]
    private static partial void LogAcceptFailed(ILogger logger, Exception exception, string listener);

    [LoggerMessage(EventId = 312, EventName = "OutOfDescriptors", Level = LogLevel.Warning,
        Message = "Listener {Listener}: {Count} accept(s) or backend socket(s) failed for want of descriptors within {Interval}: {Reason}; accepting pauses 100 ms each time, clients wait in the backlog. Raise the descriptor limit (LimitNOFILE=, ulimit -n) or lower maxConnections")]
    internal static partial void LogOutOfDescriptors(ILogger logger, string listener, long count, TimeSpan interval, string reason);

    [LoggerMessage(EventId = 311, EventName = "ClientRefused", Level = LogLevel.Debug,
        Message = "Listener {Listener}: refused client {Client}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string listener, IPEndPoint client, string reason);
}
