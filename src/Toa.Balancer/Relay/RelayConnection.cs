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
/// the other; a reset or error on either side resets both. Bytes are copied through a buffer per
/// thread until a flow proves bulk, which then moves with splice(2) where the system has it;
/// neither loop allocates.
/// </summary>
internal sealed partial class RelayConnection
{
    /// <summary>Bytes per receive or splice: the default pipe's capacity, and a buffer size that copies well.</summary>
    internal const int ChunkSize = 64 * 1024;

    // Reads land here and are sent at once, between awaits: one buffer per thread serves every connection.
    [ThreadStatic]
    private static byte[]? t_scratch;

    private readonly ListenerRuntime _listener;
    private readonly ListenerSettings _settings;
    private readonly Socket _client;
    private readonly IPEndPoint _clientEndPoint;
    private readonly TimeProvider _time;
    private Socket? _backendSocket;
    private bool _toaAttached;
    private long _lastActivity;
    private int _closed;
    private int _finished;

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
            if (!await MoveAsync(source, destination, bytes).ConfigureAwait(false))
                Close(reset: true);
            else if (Interlocked.Increment(ref _finished) == 1)
                destination.Shutdown(SocketShutdown.Send);
            // Else both sides have ended: closing the sockets sends the last FIN, no shutdown needed.
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // After Close this is a no-op.
            Close(reset: true);
        }
    }

    /// <summary>
    /// Copies through the thread's scratch buffer until a read fills it: a bulk flow, which then
    /// splices (where the host splices). Short exchanges (a request, an answer) cost a receive
    /// and a send each, as in a plain copy, instead of two splices and a pipe. A read shorter
    /// than the buffer emptied the socket, so the loop waits next rather than trying again.
    /// True at EOF, false on an error.
    /// </summary>
    private async Task<bool> MoveAsync(Socket source, Socket destination, Counter.Child bytes)
    {
        // Every read and send below is one non-blocking attempt; waiting is awaited. The runtime
        // would make the descriptors non-blocking only at their first asynchronous operation.
        source.Blocking = false;
        destination.Blocking = false;
        while (Volatile.Read(ref _closed) == 0)
        {
            var scratch = t_scratch ??= GC.AllocateUninitializedArray<byte>(ChunkSize);
            var received = source.Receive(scratch, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                await source.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                continue;
            }
            if (error != SocketError.Success)
                return false;
            if (received == 0)
                return true;
            Volatile.Write(ref _lastActivity, _time.GetTimestamp());
            var sent = destination.Send(scratch.AsSpan(0, received), SocketFlags.None, out error);
            if (error is not (SocketError.Success or SocketError.WouldBlock))
                return false;
            if (sent < received)
                await SendPooledAsync(destination, scratch.AsSpan(sent, received - sent)).ConfigureAwait(false);
            bytes.Inc(received);
            if (received < ChunkSize)
                await source.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
            else if (_listener.Context.Pipes is { } pipes)
                return await SpliceAsync(source, destination, bytes, pipes).ConfigureAwait(false);
        }
        return false;
    }

    /// <summary>
    /// Splices socket → pipe → socket; true at EOF, false on an error. Readiness comes from a
    /// zero-byte receive, which waits for data without a buffer.
    /// </summary>
    private async Task<bool> SpliceAsync(Socket source, Socket destination, Counter.Child bytes, PipePool pipes)
    {
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
            while (count > 0)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(count, ChunkSize));
                var read = Splice.Read(pipe.ReadFd, buffer.AsSpan(0, Math.Min(count, ChunkSize)), out errno);
                if (read <= 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    return false;
                }
                await SendAndReturnAsync(destination, buffer, (int)read).ConfigureAwait(false);
                count -= (int)read;
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

    /// <summary>Sends what a non-blocking send left over, from a pooled copy, waiting for room.</summary>
    private static ValueTask SendPooledAsync(Socket destination, ReadOnlySpan<byte> rest)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(rest.Length);
        rest.CopyTo(buffer);
        return SendAndReturnAsync(destination, buffer, rest.Length);
    }

    // A pooled builder: this runs once per chunk whenever the destination is full, and a plain
    // async ValueTask method allocates its state machine whenever it completes asynchronously.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask SendAndReturnAsync(Socket destination, byte[] rented, int count)
    {
        try
        {
            for (var sent = 0; sent < count;)
                sent += await destination.SendAsync(rented.AsMemory(sent, count - sent), SocketFlags.None).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
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
