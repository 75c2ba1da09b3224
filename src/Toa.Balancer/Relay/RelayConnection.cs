// SPDX-License-Identifier: MIT
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Prometheus;
using Toa.Balancer.Configuration;
using Toa.Balancer.Model;

namespace Toa.Balancer.Relay;

/// <summary>
/// One client connection: connect to the chosen backend (SNAT source, TOA, timeout), then copy
/// both ways until both sides are done. EOF on one side becomes a FIN (Shutdown(Send)) on the
/// other; a reset or error on either side resets both. Each direction owns one pooled buffer
/// for the connection's life, so the copy loop allocates nothing.
/// </summary>
internal sealed partial class RelayConnection
{
    /// <summary>Per direction; 64 KiB measured faster on loopback than 16 KiB (see docs/balancer.md).</summary>
    internal const int BufferSize = 64 * 1024;

    private readonly ListenerRuntime _listener;
    private readonly ListenerSettings _settings;
    private readonly Socket _client;
    private readonly IPEndPoint _clientEndPoint;
    private readonly TimeProvider _time;
    private Socket? _backendSocket;
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
        try
        {
            if (await ConnectAsync().ConfigureAwait(false) is { } backendSocket)
            {
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
        var toaAttached = false;
        try
        {
            if (_settings.SnatFor(socket.AddressFamily) is { } source)
                socket.Bind(new IPEndPoint(source, 0));
            if (toa.Enabled)
                toaAttached = TryAttachToa(socket);
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
        if (toa.Enabled)
        {
            var written = toaAttached && context.Toa.Report(socket);
            (written ? _listener.Metrics.ToaWritten : _listener.Metrics.ToaFailed).Inc();
        }
        return socket;
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

    private async Task PumpAsync(Socket source, Socket destination, Counter.Child bytes)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                var received = await source.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
                if (received == 0)
                {
                    // Half-close: pass the FIN on and keep the other direction going.
                    destination.Shutdown(SocketShutdown.Send);
                    return;
                }
                Volatile.Write(ref _lastActivity, _time.GetTimestamp());
                for (var sent = 0; sent < received;)
                    sent += await destination.SendAsync(buffer.AsMemory(sent, received - sent), SocketFlags.None).ConfigureAwait(false);
                bytes.Inc(received);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // A reset (or any error) on either side resets both; after Close this is a no-op.
            Close(reset: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
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
}
