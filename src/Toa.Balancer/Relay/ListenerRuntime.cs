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
/// One listening socket and its pool: accepts clients, picks a backend for each (on the accept
/// loop, so the policy's randomness is used from one thread), and hands them to a <see cref="RelayConnection"/>.
/// </summary>
internal sealed partial class ListenerRuntime : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Random _random;
    private volatile ListenerSettings _settings;
    private volatile ISchedulingPolicy _policy;
    private Task _acceptLoop = Task.CompletedTask;

    /// <summary>Binds and listens; throws <see cref="SocketException"/> when the address is taken.</summary>
    public ListenerRuntime(ListenerSettings settings, HostContext context)
    {
        Context = context;
        Name = settings.Name;
        Logger = context.LoggerFactory.CreateLogger("Toa.Balancer.Relay");
        Metrics = context.Metrics.For(Name);
        Pool = new BackendPool(Name, context.Probe, context.Time, context.LoggerFactory.CreateLogger("Toa.Balancer.Health"), context.Metrics);
        _random = context.RandomFactory();
        _settings = settings;
        _policy = SchedulingPolicies.Find(context.Policies, settings.Scheduler);
        _socket = ListenSockets.Listen(settings.EndPoint, backlog: 1024);
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        Pool.Apply(settings);
    }

    public HostContext Context { get; }

    public string Name { get; }

    public ILogger Logger { get; }

    public ListenerMetrics Metrics { get; }

    public BackendPool Pool { get; }

    public ListenerSettings Settings => _settings;

    /// <summary>The bound address (the real port when the configuration said 0).</summary>
    public IPEndPoint LocalEndPoint { get; }

    public void Start() => _acceptLoop = AcceptLoopAsync();

    /// <summary>Takes reloaded settings (same name and address); returns the removed backends' checkers to dispose.</summary>
    public IReadOnlyList<IAsyncDisposable> Apply(ListenerSettings settings)
    {
        _policy = SchedulingPolicies.Find(Context.Policies, settings.Scheduler);
        _settings = settings;
        return Pool.Apply(settings);
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                // The client gave up before it was accepted: nothing to do.
                continue;
            }
            catch (SocketException e)
            {
                // Out of descriptors and the like: log, and keep accepting once the cause passes.
                LogAcceptFailed(Logger, e, Name);
                await Task.Delay(TimeSpan.FromMilliseconds(100), Context.Time).ConfigureAwait(false);
                continue;
            }
            try
            {
                Dispatch(client);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The client reset between accept and dispatch; Dispatch has not handed it on.
                client.Dispose();
            }
        }
    }

    private void Dispatch(Socket client)
    {
        Metrics.Total.Inc();
        // What can throw (the client already gone) comes before any slot is taken.
        client.NoDelay = true;
        var clientEndPoint = Endpoints.Unmap((IPEndPoint)client.RemoteEndPoint!);
        if (!Context.Connections.TryEnter())
        {
            Refuse(client, "limit");
            return;
        }
        var settings = _settings;
        var (backend, reason) = Choose(clientEndPoint);
        if (backend is null)
        {
            Context.Connections.Exit(null);
            Refuse(client, reason);
            return;
        }
        Context.Metrics.Chosen(backend);
        Metrics.Active.Inc();
        var connection = new RelayConnection(this, settings, client, clientEndPoint, backend);
        Context.Connections.Add(connection);
        _ = connection.RunAsync();
    }

    /// <summary>
    /// Asks the policy, and again while its choice is at its connection limit (as many times as
    /// there are candidates). Consistent hashing keeps choosing the same backend, so a full one
    /// refuses the client rather than breaking affinity.
    /// </summary>
    private (Backend? Backend, string Reason) Choose(IPEndPoint client)
    {
        var candidates = Pool.Available;
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

    private void Refuse(Socket client, string reason)
    {
        Context.Metrics.Rejected(Name, reason);
        LogRefused(Logger, Name, client.RemoteEndPoint, reason);
        try
        {
            client.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // Already reset by the client: closing is enough.
        }
        client.Dispose();
    }

    /// <summary>Closes the listening socket; established connections are not touched.</summary>
    public async Task StopAcceptingAsync()
    {
        _socket.Dispose();
        await _acceptLoop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAcceptingAsync().ConfigureAwait(false);
        await Pool.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 310, EventName = "AcceptFailed", Level = LogLevel.Error, Message = "Listener {Listener}: accept failed")]
    private static partial void LogAcceptFailed(ILogger logger, Exception exception, string listener);

    [LoggerMessage(EventId = 311, EventName = "ClientRefused", Level = LogLevel.Debug,
        Message = "Listener {Listener}: refused client {Client}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string listener, EndPoint? client, string reason);
}
