// SPDX-License-Identifier: MIT
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Prometheus;
using Toa.Balancer.Configuration;
using Toa.Balancer.Model;

namespace Toa.Balancer.Relay;

/// <summary>
/// One client connection: connect to the chosen backend (SNAT source, TOA, timeout), then move
/// bytes both ways until both sides are done. EOF on one side becomes a FIN (Shutdown(Send)) on
/// the other; a reset or error on either side resets both. Bytes move with splice(2) where the
/// system has it, else through one pooled buffer per direction; neither loop allocates.
/// </summary>
internal sealed partial class RelayConnection
{
    /// <summary>Bytes per receive or splice: the default pipe's capacity, and a buffer size that copies well.</summary>
    internal const int ChunkSize = 64 * 1024;

    private readonly ListenerRuntime _listener;
    private readonly ListenerSettings _settings;
    private readonly Socket _client;
    private readonly IPEndPoint _clientEndPoint;
    private readonly TimeProvider _time;
    private Socket? _backendSocket;
    private bool _toaAttached;
    private long _lastActivity;
    private int _closed;

    public RelayConnection(ListenerRuntime listener, ListenerSettings settings, Socket client, IPEndPoint clientEndPoint, Backend backend)
    {
        _listener = listener;
        _settings = settings;
        _client = client;
        _clientEndPoint = clientEndPoint;
        _time = listener.Context.Time;
        Backend = backend;
        _lastActivity = _time.GetTimestamp();
    }

    public Backend Backend { get; }

    /// <summary>Whether nothing moved for the listener's idle timeout.</summary>
    public bool IsIdle => _time.GetElapsedTime(Volatile.Read(ref _lastActivity)) >= _settings.IdleTimeout;

    public async Task RunAsync()
    {
        var metrics = _listener.Metrics;
        var toaReport = Task.CompletedTask;
        try
        {
            if (await ConnectAsync().ConfigureAwait(false) is { } backendSocket)
            {
                toaReport = ReportToaAsync(backendSocket);
                await Task.WhenAll(
                    PumpAsync(_client, backendSocket, metrics.BytesToBackend),
                    PumpAsync(backendSocket, _client, metrics.BytesToClient)).ConfigureAwait(false);
            }
            else
            {
                Close(reset: true);
            }
        }
        catch (Exception e)
        {
            LogRelayFailed(_listener.Logger, e, _listener.Name, _clientEndPoint, Backend.Key);
            Close(reset: true);
        }
        finally
        {
            // The report finds the connection by its descriptor: it ends before the socket closes.
            await toaReport.ConfigureAwait(false);
            _client.Dispose();
            _backendSocket?.Dispose();
            metrics.Active.Dec();
            Backend.Release();
            _listener.Context.Connections.Exit(this);
        }
    }

    private async Task<Socket?> ConnectAsync()
    {
        var context = _listener.Context;
        var socket = new Socket(Backend.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Volatile.Write(ref _backendSocket, socket);
        if (Volatile.Read(ref _closed) != 0)
            return null;
        var toa = _settings.Toa;
        try
        {
            if (_settings.SnatFor(socket.AddressFamily) is { } source)
                socket.Bind(new IPEndPoint(source, 0));
            if (toa.Enabled)
                _toaAttached = TryAttachToa(socket);
            using var timeout = new CancellationTokenSource(_settings.ConnectTimeout, _time);
            await socket.ConnectAsync(Backend.EndPoint, timeout.Token).ConfigureAwait(false);
            if (Volatile.Read(ref _closed) != 0)
                return null;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            if (Volatile.Read(ref _closed) == 0)
            {
                LogConnectFailed(_listener.Logger, _listener.Name, Backend.Key, e.Message);
                _listener.Pool.RecordConnect(Backend, ok: false);
                context.Metrics.ConnectFailed(Backend);
                context.Metrics.Rejected(_listener.Name, "connect_failed");
            }
            return null;
        }
        _listener.Pool.RecordConnect(Backend, ok: true);
        return socket;
    }

    /// <summary>
    /// Counts whether the TOA went out, beside the relay rather than before it: the handshake's
    /// last ACK may leave a moment after connect returned, and the relay need not wait for it.
    /// </summary>
    private async Task ReportToaAsync(Socket backend)
    {
        if (!_settings.Toa.Enabled)
            return;
        bool written;
        try
        {
            written = _toaAttached && await _listener.Context.Toa.ReportAsync(backend).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Closed under the report (a reset), or a writer that failed: not written, as far as anyone can tell.
            LogToaReportFailed(_listener.Logger, _listener.Name, _clientEndPoint, e.Message);
            written = false;
        }
        (written ? _listener.Metrics.ToaWritten : _listener.Metrics.ToaFailed).Inc();
    }

    /// <summary>A writer that fails costs the connection its TOA, not the connection itself (it is counted).</summary>
    private bool TryAttachToa(Socket socket)
    {
        try
        {
            _listener.Context.Toa.Attach(socket, _clientEndPoint, _settings.Toa);
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogToaAttachFailed(_listener.Logger, e, _listener.Name, _clientEndPoint);
            return false;
        }
    }

    /// <summary>One direction, until EOF (passed on as a FIN) or an error (which resets both sides).</summary>
    private async Task PumpAsync(Socket source, Socket destination, Counter.Child bytes)
    {
        try
        {
            var completed = _listener.Context.Pipes is { } pipes
                ? await SpliceAsync(source, destination, bytes, pipes).ConfigureAwait(false)
                : await CopyAsync(source, destination, bytes).ConfigureAwait(false);
            if (completed)
                destination.Shutdown(SocketShutdown.Send);
            else
                Close(reset: true);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // After Close this is a no-op.
            Close(reset: true);
        }
    }

    /// <summary>Copies through one pooled buffer; true at EOF.</summary>
    private async Task<bool> CopyAsync(Socket source, Socket destination, Counter.Child bytes)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            while (true)
            {
                var received = await source.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
                if (received == 0)
                    return true;
                Volatile.Write(ref _lastActivity, _time.GetTimestamp());
                await SendAllAsync(destination, buffer.AsMemory(0, received)).ConfigureAwait(false);
                bytes.Inc(received);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Splices socket → pipe → socket; true at EOF, false on an error. Readiness comes from a
    /// zero-byte receive, which waits for data without a buffer.
    /// </summary>
    private async Task<bool> SpliceAsync(Socket source, Socket destination, Counter.Child bytes, PipePool pipes)
    {
        // The runtime makes a socket's descriptor non-blocking only at its first asynchronous
        // operation, which an accepted client has not had yet; splice would block on it.
        source.Blocking = false;
        destination.Blocking = false;
        KernelPipe? pipe = null;
        try
        {
            while (Volatile.Read(ref _closed) == 0)
            {
                pipe ??= pipes.Rent();
                var moved = Transfer(source, pipe.WriteFd, out var errno);
                if (moved == 0)
                {
                    pipes.Return(pipe);
                    pipe = null;
                    return true;
                }
                if (moved < 0)
                {
                    if (errno == Splice.EINTR)
                        continue;
                    if (errno != Splice.EAGAIN)
                        return false;
                    // Nothing to read: give the (empty) pipe back while waiting.
                    pipes.Return(pipe);
                    pipe = null;
                    await source.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                    continue;
                }
                Volatile.Write(ref _lastActivity, _time.GetTimestamp());
                if (!await DrainAsync(pipe, destination, (int)moved).ConfigureAwait(false))
                    return false;
                bytes.Inc(moved);
            }
            return false;
        }
        finally
        {
            // A pipe still held here may hold bytes: it is not fit for the pool.
            pipe?.Dispose();
        }
    }

    /// <summary>
    /// Moves <paramref name="count"/> bytes from the pipe to the destination. When the destination
    /// is full, the rest goes through a pooled buffer and SendAsync, which waits for room without
    /// holding a thread (the runtime offers no wait-until-writable of its own). False on an error.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> DrainAsync(KernelPipe pipe, Socket destination, int count)
    {
        while (count > 0)
        {
            var moved = Transfer(pipe.ReadFd, destination, count, out var errno);
            if (moved > 0)
            {
                count -= (int)moved;
                continue;
            }
            if (errno == Splice.EINTR)
                continue;
            if (moved == 0 || errno != Splice.EAGAIN)
                return false;
            var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
            try
            {
                while (count > 0)
                {
                    var read = Splice.Read(pipe.ReadFd, buffer.AsSpan(0, Math.Min(count, ChunkSize)), out errno);
                    if (read <= 0)
                        return false;
                    await SendAllAsync(destination, buffer.AsMemory(0, (int)read)).ConfigureAwait(false);
                    count -= (int)read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        return true;
    }

    // The socket's handle is held only for the call, so that a concurrent Close cannot free (and
    // the system reuse) the descriptor mid-splice; held across an await, it would keep Close
    // from ending the very receive the pump waits in.
    private static nint Transfer(Socket from, int toPipe, out int errno)
    {
        var held = false;
        try
        {
            from.SafeHandle.DangerousAddRef(ref held);
            return Splice.Transfer((int)from.SafeHandle.DangerousGetHandle(), toPipe, ChunkSize, out errno);
        }
        finally
        {
            if (held)
                from.SafeHandle.DangerousRelease();
        }
    }

    private static nint Transfer(int fromPipe, Socket to, int count, out int errno)
    {
        var held = false;
        try
        {
            to.SafeHandle.DangerousAddRef(ref held);
            return Splice.Transfer(fromPipe, (int)to.SafeHandle.DangerousGetHandle(), count, out errno);
        }
        finally
        {
            if (held)
                to.SafeHandle.DangerousRelease();
        }
    }

    // Pooled builders: these run once per chunk, and a plain async ValueTask method allocates
    // its state machine whenever it completes asynchronously.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask SendAllAsync(Socket destination, ReadOnlyMemory<byte> data)
    {
        for (var sent = 0; sent < data.Length;)
            sent += await destination.SendAsync(data[sent..], SocketFlags.None).ConfigureAwait(false);
    }

    /// <summary>
    /// Ends the connection once, whichever side asks first. <paramref name="reset"/>: at once and
    /// abortively (linger 0, so both peers get a RST). Otherwise gracefully: a FIN both ways
    /// (shutdown), which also ends the pending receives so the pumps finish and the sockets
    /// close with nothing pending; closing a socket with a receive pending would reset it.
    /// </summary>
    public void Close(bool reset)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
            return;
        Socket?[] sockets = [_client, Volatile.Read(ref _backendSocket)];
        foreach (var socket in sockets)
        {
            if (socket is null)
                continue;
            try
            {
                if (reset)
                {
                    socket.LingerState = new LingerOption(true, 0);
                    socket.Dispose();
                }
                else
                {
                    socket.Shutdown(SocketShutdown.Both);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already closed or never connected: nothing to tell that peer.
            }
        }
    }

    [LoggerMessage(EventId = 300, EventName = "BackendConnectFailed", Level = LogLevel.Debug,
        Message = "Listener {Listener}: connecting to backend {Backend} failed: {Reason}")]
    private static partial void LogConnectFailed(ILogger logger, string listener, string backend, string reason);

    [LoggerMessage(EventId = 301, EventName = "ToaAttachFailed", Level = LogLevel.Warning,
        Message = "Listener {Listener}: the TOA writer failed for client {Client}; the connection goes on without TOA")]
    private static partial void LogToaAttachFailed(ILogger logger, Exception exception, string listener, IPEndPoint client);

    [LoggerMessage(EventId = 302, EventName = "RelayFailed", Level = LogLevel.Error,
        Message = "Listener {Listener}: relaying client {Client} to {Backend} failed unexpectedly")]
    private static partial void LogRelayFailed(ILogger logger, Exception exception, string listener, IPEndPoint client, string backend);

    [LoggerMessage(EventId = 303, EventName = "ToaReportFailed", Level = LogLevel.Debug,
        Message = "Listener {Listener}: whether client {Client}'s TOA went out could not be read ({Reason}); counted as failed")]
    private static partial void LogToaReportFailed(ILogger logger, string listener, IPEndPoint client, string reason);
}
