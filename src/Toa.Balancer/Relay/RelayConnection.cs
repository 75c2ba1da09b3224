// SPDX-License-Identifier: MIT
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Prometheus;
using Toa.Balancer.Configuration;
using Toa.Balancer.Model;
using Toa.Wire;

namespace Toa.Balancer.Relay;

/// <summary>
/// One client connection, run on one <see cref="EventLoop"/>: connect to the chosen backend
/// (SNAT source, TOA, timeout), send it a PROXY protocol header where the listener asks for one, then move bytes both ways until both sides are done. EOF on one
/// side becomes a FIN (shutdown) on the other; a reset or error on either side resets both.
/// </summary>
/// <remarks>
/// Both sockets are non-blocking and watched edge-triggered; what epoll last said of each
/// (readable, writable, peer closed) is kept in flags that the calls clear when they would block.
/// Bytes are copied through the loop's buffer until a read fills it: a bulk flow, which from then
/// on moves with splice(2) where the host splices (HAProxy's splice-auto). Short exchanges cost a
/// receive and a send per message. What a full destination does not take waits in a pooled
/// buffer (or stays in the pipe) until epoll says it is writable; nothing is allocated per chunk.
/// </remarks>
internal sealed partial class RelayConnection : IEventHandler
{
    /// <summary>Bytes per receive or splice: the default pipe's capacity, and a buffer size that copies well.</summary>
    internal const int ChunkSize = 64 * 1024;

    private const int ClientSide = 0;
    private const int BackendSide = 1;
    private const uint Watched = Libc.EpollIn | Libc.EpollOut | Libc.EpollRdHup | Libc.EpollEdge;

    // Flags per side: shifted left by the side.
    private const int Readable = 1 << 0;
    private const int Writable = 1 << 2;
    private const int PeerClosed = 1 << 4;

    // The deadline names its socket: one of a connect given up on must not end the next.
    private static readonly TimerCallback s_connectDeadline = static state =>
    {
        var (connection, _) = ((RelayConnection, Socket))state!;
        connection._loop.Post(static s =>
        {
            var (c, socket) = ((RelayConnection, Socket))s!;
            c.ConnectTimedOut(socket);
        }, state);
    };

    private readonly ListenerRuntime _listener;
    private readonly ListenerSettings _settings;
    private readonly EventLoop _loop;
    private readonly int _clientFd;
    private readonly IPEndPoint _clientEndPoint;
    private readonly TimeProvider _time;
    private readonly bool _sourceCounted;
    private readonly long _started;
    private System.Threading.ITimer? _firstByteTimer; // until the client's first byte, under firstByteTimeout
    private Socket? _backendSocket;
    private List<Backend>? _tried; // backends whose connect failed, once one has
    private int _backendFd = -1;
    private int _slot = -1;
    private System.Threading.ITimer? _connectTimer;
    private State _state;
    private int _flags;
    private Flow _up;   // client → backend
    private Flow _down; // backend → client
    private long _lastActivity;
    private int _failedSide = -1; // the side whose error reset the connection
    private int _firstFin = -1;   // the side that finished sending first
    private string? _end;         // how it ended, for the connection log (ConnectionEnd); the first cause wins

    public RelayConnection(
        ListenerRuntime listener, ListenerSettings settings, EventLoop loop, int clientFd, IPEndPoint clientEndPoint, bool sourceCounted, Backend backend)
    {
        _sourceCounted = sourceCounted;
        _listener = listener;
        _settings = settings;
        _loop = loop;
        _clientFd = clientFd;
        _clientEndPoint = clientEndPoint;
        _time = listener.Context.Time;
        Backend = backend;
        _started = _lastActivity = _time.GetTimestamp();
    }

    private enum State
    {
        Connecting,
        Relaying,
        Closed,
    }

    /// <summary>The backend connected to, or being connected to (another one after a redispatch).</summary>
    public Backend Backend { get; private set; }

    /// <summary>Whether nothing moved for the listener's idle timeout; on the loop's thread.</summary>
    public bool IsIdle => _time.GetElapsedTime(_lastActivity) >= _settings.IdleTimeout;

    /// <summary>Watches the client and opens the backend connection; on the loop's thread, right after accept.</summary>
    public void Start()
    {
        _slot = _loop.Register(this);
        try
        {
            Libc.SetSocketOption(_clientFd, Libc.IpProtoTcp, Libc.TcpNoDelay, 1);
            _loop.Add(_clientFd, Watched, _slot, ClientSide);
            if (_settings.FirstByteTimeout is { } silence)
            {
                _firstByteTimer = _time.CreateTimer(
                    static state => ((RelayConnection)state!)._loop.Post(static s => ((RelayConnection)s!).FirstByteTimedOut(), state),
                    this, silence, Timeout.InfiniteTimeSpan);
            }
        }
        catch (IOException e)
        {
            LogRelayFailed(_listener.Logger, e, _listener.Name, _clientEndPoint, Backend.Key);
            Finish(reset: true, ConnectionEnd.Error);
            return;
        }
        Connect();
    }

    /// <summary>Opens a connection to <see cref="Backend"/> (SNAT source, TOA, timeout).</summary>
    private unsafe void Connect()
    {
        Socket socket;
        try
        {
            socket = new Socket(Backend.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            _backendSocket = socket;
            _backendFd = (int)socket.Handle;
        }
        catch (SocketException e)
        {
            // This host's trouble, not the backend's: out of descriptors is logged at most once per interval.
            if (e.SocketErrorCode == SocketError.TooManyOpenSockets)
            {
                if (_listener.OutOfDescriptors.Count() is var count and > 0)
                    ListenerRuntime.LogOutOfDescriptors(_listener.Logger, _listener.Name, count, ListenerRuntime.DescriptorWarningInterval, e.Message);
                _listener.Context.Metrics.Rejected(_listener.Name, "no_descriptors");
                Finish(reset: true, ConnectionEnd.Limit);
            }
            else
            {
                LogRelayFailed(_listener.Logger, e, _listener.Name, _clientEndPoint, Backend.Key);
                Finish(reset: true, ConnectionEnd.Error);
            }
            return;
        }
        try
        {
            if (_settings.SnatFor(socket.AddressFamily) is { } source)
                socket.Bind(new IPEndPoint(source, 0));
            // The writer sets TCP_NODELAY along with the option.
            if (_settings.Toa.Enabled)
                _listener.Context.Toa.Attach(socket, _clientEndPoint, _settings.Toa, _listener.Name);
            else
                socket.NoDelay = true;
            var nonBlocking = 1;
            if (Libc.Ioctl(_backendFd, Libc.FionBio, &nonBlocking) != 0)
                throw new IOException($"making the backend socket non-blocking failed: errno {Libc.Errno}");
            _loop.Add(_backendFd, Watched, _slot, BackendSide);

            var address = stackalloc byte[SocketAddresses.MaxLength];
            var length = SocketAddresses.Write(Backend.EndPoint, new Span<byte>(address, SocketAddresses.MaxLength));
            if (Libc.Connect(_backendFd, address, length) == 0)
            {
                Connected();
                return;
            }
            var errno = Libc.Errno;
            if (errno != Libc.EINPROGRESS)
            {
                ConnectFailed(new SocketException(errno).Message);
                return;
            }
            _connectTimer = _time.CreateTimer(s_connectDeadline, (this, socket), _settings.ConnectTimeout, Timeout.InfiniteTimeSpan);
        }
        catch (SocketException e)
        {
            ConnectFailed(e.Message); // the SNAT source cannot be bound, say
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            LogRelayFailed(_listener.Logger, e, _listener.Name, _clientEndPoint, Backend.Key);
            Finish(reset: true, ConnectionEnd.Error);
        }
    }

    /// <summary>
    /// Ends the connection; on its loop's thread. <paramref name="reset"/>: at once and abortively
    /// (linger 0, so both peers get a RST). Otherwise gracefully: a FIN both ways, after what was
    /// read has been passed on.
    /// </summary>
    public void Close(bool reset)
    {
        _end ??= reset ? ConnectionEnd.BalancerReset : IsIdle ? ConnectionEnd.IdleTimeout : ConnectionEnd.BalancerClosed;
        if (reset)
            Finish(reset: true);
        else
            ShutDown();
    }

    public void OnEvents(uint events, int tag)
    {
        if (_state == State.Closed)
            return;
        try
        {
            if ((events & (Libc.EpollIn | Libc.EpollRdHup | Libc.EpollHup | Libc.EpollErr)) != 0)
                _flags |= Readable << tag; // an error or hang-up surfaces in the next read
            if ((events & (Libc.EpollRdHup | Libc.EpollHup)) != 0)
                _flags |= PeerClosed << tag;
            if ((events & (Libc.EpollOut | Libc.EpollHup | Libc.EpollErr)) != 0)
                _flags |= Writable << tag;
            if (_state == State.Relaying)
                Relay();
            else if (tag == ClientSide && (events & (Libc.EpollErr | Libc.EpollHup)) != 0)
                Finish(reset: true, ConnectionEnd.ClientReset); // the client reset while the backend was connecting: nobody is left to relay for
            else if (tag == BackendSide && (events & (Libc.EpollErr | Libc.EpollHup)) != 0)
                ConnectFailed();
            else if (tag == BackendSide && (events & Libc.EpollOut) != 0)
                Connected(); // writable without an error: the handshake completed
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogRelayFailed(_listener.Logger, e, _listener.Name, _clientEndPoint, Backend.Key);
            Finish(reset: true, ConnectionEnd.Error);
        }
    }

    /// <summary>The connect failed (epoll said error or hang-up): SO_ERROR says why.</summary>
    private unsafe void ConnectFailed()
    {
        int error = 0, length = sizeof(int);
        if (Libc.GetSocketOption(_backendFd, Libc.SolSocket, Libc.SoError, &error, &length) != 0)
            error = Libc.Errno;
        ConnectFailed(error != 0 ? new SocketException(error).Message : "the connection was closed during the handshake");
    }

    /// <summary>The client sent nothing within firstByteTimeout: it holds two descriptors for nothing.</summary>
    private void FirstByteTimedOut()
    {
        if (_state == State.Closed || _firstByteTimer is null)
            return;
        _listener.Context.Metrics.Rejected(_listener.Name, "first_byte_timeout");
        Finish(reset: true, ConnectionEnd.FirstByteTimeout);
    }

    private void ConnectTimedOut(Socket socket)
    {
        if (_state == State.Connecting && socket == _backendSocket)
            ConnectFailed("timed out", ConnectionEnd.ConnectTimeout);
    }

    private void Connected()
    {
        _connectTimer?.Dispose();
        _state = State.Relaying;
        _listener.Pool.RecordConnect(Backend, ok: true);
        if (_settings.ProxyProtocol && !SendProxyHeader())
        {
            Finish(reset: true);
            return;
        }
        Relay();
    }

    /// <summary>
    /// The PROXY v2 header, before any byte of the client's: the client and the address it
    /// connected to (this side of its connection, the listener's address as the client sees it).
    /// Sent only once connected, so a redispatched client's next backend gets its own.
    /// </summary>
    private unsafe bool SendProxyHeader()
    {
        var local = stackalloc byte[SocketAddresses.MaxLength];
        var length = SocketAddresses.MaxLength;
        if (Libc.GetSockName(_clientFd, local, &length) != 0
            || SocketAddresses.Read(new ReadOnlySpan<byte>(local, length)) is not { } listenerAddress)
            return false;
        Span<byte> header = stackalloc byte[ProxyProtocol.V2Length(_clientEndPoint, listenerAddress)];
        ProxyProtocol.WriteV2(header, _clientEndPoint, listenerAddress);
        nint sent;
        fixed (byte* bytes = header)
            sent = Libc.Send(_backendFd, bytes, (nuint)header.Length, Libc.MsgNoSignal | Libc.MsgDontWait);
        if (sent < 0 && Libc.Errno != Libc.EAGAIN)
            return false;
        // A fresh connection's send buffer takes 28 or 52 bytes at once; anything else waits like held data.
        if (sent < header.Length)
            Hold(ref _up, BackendSide, header[(int)Math.Max(sent, 0)..]);
        return true;
    }

    /// <summary>
    /// Counts the failure against the backend, then sends the client, which has seen nothing yet,
    /// to another backend while retries are left; resets it when none is (<paramref name="end"/> says why, in the connection log).
    /// </summary>
    private void ConnectFailed(string reason, string end = ConnectionEnd.Refused)
    {
        LogConnectFailed(_listener.Logger, _listener.Name, Backend.Key, reason);
        _listener.Pool.RecordConnect(Backend, ok: false);
        _listener.Context.Metrics.ConnectFailed(Backend);
        (_tried ??= []).Add(Backend);
        if (_tried.Count <= _settings.Retries && _listener.Redispatch(_clientEndPoint, _tried) is { } next)
        {
            DropBackendSocket();
            Backend.Release();
            Backend = next;
            _listener.Metrics.Retries.Inc();
            Connect();
            return;
        }
        _listener.Context.Metrics.Rejected(_listener.Name, "connect_failed");
        Finish(reset: true, end);
    }

    /// <summary>Closes the failed backend socket and forgets what epoll said of it.</summary>
    private void DropBackendSocket()
    {
        _connectTimer?.Dispose();
        _connectTimer = null;
        Libc.SetAbortiveClose(_backendFd);
        _backendSocket?.Dispose(); // closing it also takes it out of the loop's epoll
        _backendSocket = null;
        _backendFd = -1;
        _flags &= ~((Readable | Writable | PeerClosed) << BackendSide);
    }

    private void Relay()
    {
        var metrics = _listener.Metrics;
        if (!Pump(ref _up, ClientSide, BackendSide, metrics.BytesToBackend) ||
            (_state == State.Relaying && !Pump(ref _down, BackendSide, ClientSide, metrics.BytesToClient)))
            Finish(reset: true, _failedSide == BackendSide ? ConnectionEnd.BackendReset : ConnectionEnd.ClientReset);
    }

    /// <summary>Moves what one direction can move now; false on an error (which resets both sides).</summary>
    private unsafe bool Pump(ref Flow flow, int source, int destination, Counter.Child bytes)
    {
        var from = Fd(source);
        while (_state == State.Relaying)
        {
            if (!Flush(ref flow, destination, out var ok))
                return ok;
            if (flow.Eof)
                return PassFin(ref flow, destination);
            if ((_flags & (Readable << source)) == 0)
                return true;
            nint moved;
            if (flow.Bulk)
            {
                flow.Pipe ??= _listener.Context.Pipes!.Rent();
                moved = Splice.Transfer(from, flow.Pipe.WriteFd, ChunkSize, out var errno);
                if (moved < 0 && errno == Libc.EINTR)
                    continue;
                if (moved < 0)
                    return Blocked(errno, ref flow, source);
                if (moved == 0)
                {
                    flow.Eof = true;
                    continue;
                }
                flow.Piped = (int)moved;
                _lastActivity = _time.GetTimestamp();
            }
            else
            {
                fixed (byte* scratch = _loop.Scratch)
                {
                    moved = Libc.Receive(from, scratch, ChunkSize, 0);
                    var errno = moved < 0 ? Libc.Errno : 0;
                    if (errno == Libc.EINTR)
                        continue;
                    if (moved < 0)
                        return Blocked(errno, ref flow, source);
                    if (moved == 0)
                    {
                        flow.Eof = true;
                        continue;
                    }
                    if (source == ClientSide && _firstByteTimer is not null)
                    {
                        _firstByteTimer.Dispose();
                        _firstByteTimer = null;
                    }
                    // A short read emptied the socket (epoll tells when more comes), unless a FIN
                    // is known to be waiting behind the data.
                    if (moved < ChunkSize && (_flags & (PeerClosed << source)) == 0)
                        _flags &= ~(Readable << source);
                    else if (moved == ChunkSize && _listener.Context.Pipes is not null)
                        flow.Bulk = true;
                    // Stamped before the bytes go on: whoever sees them sees the connection active.
                    _lastActivity = _time.GetTimestamp();
                    var sent = Libc.Send(Fd(destination), scratch, (nuint)moved, Libc.MsgNoSignal | Libc.MsgDontWait);
                    if (sent < 0 && Libc.Errno != Libc.EAGAIN)
                        return Failed(destination);
                    if (sent < moved)
                        Hold(ref flow, destination, new ReadOnlySpan<byte>(scratch + Math.Max(sent, 0), (int)(moved - Math.Max(sent, 0))));
                }
            }
            bytes.Inc(moved);
            flow.Bytes += moved;
        }
        return true;
    }

    /// <summary>Notes which side's error ends the connection; false, for the caller to return.</summary>
    private bool Failed(int side)
    {
        _failedSide = side;
        return false;
    }

    /// <summary>A read that failed: EAGAIN waits for epoll (giving back an empty pipe); anything else is an error.</summary>
    private bool Blocked(int errno, ref Flow flow, int source)
    {
        if (errno != Libc.EAGAIN)
            return Failed(source);
        _flags &= ~(Readable << source);
        if (flow.Pipe is { } pipe && flow.Piped == 0)
        {
            _listener.Context.Pipes!.Return(pipe);
            flow.Pipe = null;
        }
        return true;
    }

    /// <summary>Keeps what a full destination did not take, in a pooled buffer, until it is writable.</summary>
    private void Hold(ref Flow flow, int destination, ReadOnlySpan<byte> rest)
    {
        flow.Held = ArrayPool<byte>.Shared.Rent(rest.Length);
        rest.CopyTo(flow.Held);
        flow.HeldOffset = 0;
        flow.HeldCount = rest.Length;
        _flags &= ~(Writable << destination);
    }

    /// <summary>
    /// Passes on what a direction holds (buffer or pipe). True when nothing is left; false when
    /// the destination is full (<paramref name="ok"/> true) or failed (<paramref name="ok"/> false).
    /// </summary>
    private unsafe bool Flush(ref Flow flow, int destination, out bool ok)
    {
        ok = true;
        if (flow.HeldCount == 0 && flow.Piped == 0)
            return true;
        var to = Fd(destination);
        while (flow.HeldCount > 0 || flow.Piped > 0)
        {
            if ((_flags & (Writable << destination)) == 0)
                return false;
            nint sent;
            int errno;
            if (flow.HeldCount > 0)
            {
                fixed (byte* held = flow.Held)
                    sent = Libc.Send(to, held + flow.HeldOffset, (nuint)flow.HeldCount, Libc.MsgNoSignal | Libc.MsgDontWait);
                errno = sent < 0 ? Libc.Errno : 0;
                if (sent > 0)
                {
                    flow.HeldOffset += (int)sent;
                    flow.HeldCount -= (int)sent;
                    if (flow.HeldCount == 0)
                    {
                        ArrayPool<byte>.Shared.Return(flow.Held!);
                        flow.Held = null;
                    }
                    continue;
                }
            }
            else
            {
                sent = Splice.Transfer(flow.Pipe!.ReadFd, to, flow.Piped, out errno);
                if (sent > 0)
                {
                    flow.Piped -= (int)sent;
                    continue;
                }
            }
            if (sent < 0 && errno == Libc.EAGAIN)
            {
                _flags &= ~(Writable << destination);
                return false;
            }
            if (sent < 0 && errno == Libc.EINTR)
                continue;
            ok = Failed(destination);
            return false;
        }
        return true;
    }

    /// <summary>The source's FIN, passed on once everything before it was.</summary>
    private bool PassFin(ref Flow flow, int destination)
    {
        if (flow.Done)
            return true;
        flow.Done = true;
        if (_firstFin < 0)
            _firstFin = destination == BackendSide ? ClientSide : BackendSide;
        if (_up.Done && _down.Done)
        {
            // Closing sends the last FIN: no shutdown needed.
            Finish(reset: false, _firstFin == ClientSide ? ConnectionEnd.ClientClosed : ConnectionEnd.BackendClosed);
            return true;
        }
        return Libc.Shutdown(Fd(destination), Libc.ShutWrite) == 0 || Failed(destination);
    }

    /// <summary>Graceful close: both sockets shut down, so both directions read EOF and pass on a FIN.</summary>
    private void ShutDown()
    {
        if (_state != State.Relaying)
        {
            Finish(reset: false);
            return;
        }
        Libc.Shutdown(_clientFd, Libc.ShutBoth);
        Libc.Shutdown(_backendFd, Libc.ShutBoth);
        _flags |= (Readable | PeerClosed) << ClientSide | (Readable | PeerClosed) << BackendSide;
        Relay();
    }

    private int Fd(int side) => side == ClientSide ? _clientFd : _backendFd;

    /// <summary>
    /// Closes both sockets, once, and frees the slot with them, so events cannot outlive the
    /// connection; logs it, ended by <paramref name="end"/> unless an earlier cause was noted.
    /// </summary>
    private void Finish(bool reset, string end = ConnectionEnd.Error)
    {
        if (_state == State.Closed)
            return;
        _state = State.Closed;
        if (_settings.LogTo is { } to)
        {
            // The wall-clock time of the accept only for a logged connection: now less its duration.
            var duration = _time.GetElapsedTime(_started);
            _listener.Context.Log.Write(to, new ConnectionRecord(
                _time.GetUtcNow() - duration, _listener.Name, _listener.LocalEndPoint, _clientEndPoint, Backend.Key,
                _up.Bytes, _down.Bytes, duration, _tried?.Count ?? 0, _end ?? end));
        }
        _connectTimer?.Dispose();
        _firstByteTimer?.Dispose();
        if (reset)
        {
            Libc.SetAbortiveClose(_clientFd);
            if (_backendFd >= 0)
                Libc.SetAbortiveClose(_backendFd);
        }
        Libc.Close(_clientFd);
        ReleaseHeld(ref _up);
        ReleaseHeld(ref _down);
        _backendSocket?.Dispose();
        if (_slot >= 0)
            _loop.Unregister(_slot);
        _listener.Metrics.Active.Dec();
        Backend.Release();
        _listener.Context.Connections.Exit(_clientEndPoint.Address, _sourceCounted);
    }

    private void ReleaseHeld(ref Flow flow)
    {
        if (flow.Held is { } held)
            ArrayPool<byte>.Shared.Return(held);
        if (flow.Pipe is { } pipe)
        {
            // A pipe with bytes in it is not fit for the pool.
            if (flow.Piped == 0)
                _listener.Context.Pipes!.Return(pipe);
            else
                pipe.Dispose();
        }
        flow = default;
    }

    /// <summary>One direction's state: what it holds for a full destination, and how far it got.</summary>
    private struct Flow
    {
        public byte[]? Held;
        public int HeldOffset;
        public int HeldCount;
        public KernelPipe? Pipe;
        public int Piped;
        public long Bytes; // moved so far, for the connection log
        public bool Bulk;
        public bool Eof;
        public bool Done;
    }

    [LoggerMessage(EventId = 300, EventName = "BackendConnectFailed", Level = LogLevel.Debug,
        Message = "Listener {Listener}: connecting to backend {Backend} failed: {Reason}")]
    private static partial void LogConnectFailed(ILogger logger, string listener, string backend, string reason);

    [LoggerMessage(EventId = 302, EventName = "RelayFailed", Level = LogLevel.Error,
        Message = "Listener {Listener}: relaying client {Client} to {Backend} failed unexpectedly")]
    private static partial void LogRelayFailed(ILogger logger, Exception exception, string listener, IPEndPoint client, string backend);
}
