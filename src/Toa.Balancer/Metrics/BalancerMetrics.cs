// SPDX-License-Identifier: MIT
using Prometheus;
using Toa.Balancer.Model;
using Toa.Balancer.Packet;

namespace Toa.Balancer.Metrics;

/// <summary>
/// The balancer's Prometheus metrics, in a registry of their own so that several hosts (tests)
/// do not mix. Per-backend gauges and choices are read from the pools, and TOA outcomes from the
/// writer, when scraped rather than kept in step, so that a relayed connection touches as few
/// shared counters as it can. Packet listeners' series are the engine's counters, read when scraped:
/// the same series where they mean the same (connections, bytes, TOA), toa_lb_packet_* for the rest.
/// </summary>
internal sealed class BalancerMetrics
{
    public const string ToBackend = "client_to_backend";
    public const string ToClient = "backend_to_client";

    private readonly Gauge _active;
    private readonly Counter _total;
    private readonly Counter _rejected;
    private readonly Counter _bytes;
    private readonly Counter _toaWritten;
    private readonly Counter _toaFailed;
    private readonly Counter _choices;
    private readonly Counter _connectFailures;
    private readonly Counter _retries;
    private readonly Gauge _backendUp;
    private readonly Gauge _backendActive;
    private readonly Gauge _backendState;
    private readonly Counter _reloads;
    private readonly Gauge _lastReloadSuccessful;
    private readonly Gauge _lastReloadSuccess;
    private readonly Counter _packetRefused;
    private readonly Counter _packetToaRemoved;
    private readonly Counter _packetMssClamped;
    private readonly Counter _packetPortsReused;

    public BalancerMetrics(Func<MetricsSample> sample, IToaWriter toa)
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        // No exemplars: the default reads the current trace for every increment on the relay's
        // hot path, and relayed connections have no trace to point to.
        factory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = static (_, _) => Exemplar.None };
        _active = factory.CreateGauge("toa_lb_connections_active", "Client connections being relayed now.", "listener");
        _total = factory.CreateCounter("toa_lb_connections_total", "Client connections accepted.", "listener");
        _rejected = factory.CreateCounter("toa_lb_connections_rejected_total",
            "Client connections closed without being relayed, by reason: limit (overall), backend_limit, no_backend, connect_failed.", "listener", "reason");
        _bytes = factory.CreateCounter("toa_lb_bytes_total", "Bytes relayed, by direction: client_to_backend or backend_to_client.", "listener", "direction");
        _toaWritten = factory.CreateCounter("toa_lb_toa_written_total", "Backend connections that carried the client's address in a TOA (for a packet listener: packets that did).", "listener");
        _toaFailed = factory.CreateCounter("toa_lb_toa_failed_total", "Backend connections that should have carried a TOA but went without (for a packet listener: packets with no room for it).", "listener");
        _choices = factory.CreateCounter("toa_lb_scheduler_choices_total", "New connections the scheduler sent to each backend.", "listener", "backend");
        _connectFailures = factory.CreateCounter("toa_lb_backend_connect_failures_total", "Failed or timed-out connects to each backend.", "listener", "backend");
        _retries = factory.CreateCounter("toa_lb_connect_retries_total",
            "Client connections sent to another backend after a failed connect (redispatched), before the client saw anything.", "listener");
        _backendUp = factory.CreateGauge("toa_lb_backend_up", "1 when the backend passes health checks, else 0.", "listener", "backend");
        _backendActive = factory.CreateGauge("toa_lb_backend_connections_active", "Connections open to each backend.", "listener", "backend");
        _backendState = factory.CreateGauge("toa_lb_backend_state",
            "1 for the backend's current state (healthy, unhealthy, draining, disabled), 0 for the others.", "listener", "backend", "state");
        _reloads = factory.CreateCounter("toa_lb_config_reloads_total", "Configuration reloads, by result: applied, unchanged, refused.", "result");
        _lastReloadSuccessful = factory.CreateGauge("toa_lb_config_last_reload_successful",
            "1 when the last reload was applied or found nothing to change (or none was tried), 0 when it was refused.");
        _lastReloadSuccessful.Set(1);
        _lastReloadSuccess = factory.CreateGauge("toa_lb_config_last_reload_success_timestamp_seconds",
            "When the running configuration was last loaded successfully (start or reload), in seconds since the Unix epoch.");
        _lastReloadSuccess.SetToCurrentTimeUtc();
        _packetRefused = factory.CreateCounter("toa_lb_packet_refused_total",
            "New connections the packet engine refused, by reason: table_full (no room to track it), no_backend, no_port (no free local port), "
            + "no_route (packets with no route or neighbour toward their new destination).", "listener", "reason");
        _packetToaRemoved = factory.CreateCounter("toa_lb_packet_toa_removed_total",
            "TOA options clients sent themselves, which the packet engine removed before they reached a backend.", "listener");
        _packetMssClamped = factory.CreateCounter("toa_lb_packet_mss_clamped_total",
            "Handshake packets whose MSS the packet engine lowered so that full segments still fit with the TOA.", "listener");
        _packetPortsReused = factory.CreateCounter("toa_lb_packet_ports_reused_total",
            "New connections the packet engine gave the local port of a connection that had ended (both FINs or a reset) a second before or more.", "listener");
        ProcessMetrics.Register(Registry);
        Registry.AddBeforeCollectCallback(() =>
        {
            var now = sample();
            foreach (var (backend, active, total) in now.Backends)
            {
                _backendUp.WithLabels(backend.Listener, backend.Key).Set(backend.Health == BackendHealth.Healthy ? 1 : 0);
                _backendActive.WithLabels(backend.Listener, backend.Key).Set(active);
                _choices.WithLabels(backend.Listener, backend.Key).IncTo(total);
                foreach (var status in Enum.GetValues<BackendStatus>())
                {
                    _backendState.WithLabels(backend.Listener, backend.Key, StateLabel(status))
                        .Set(backend.Status == status ? 1 : 0);
                }
            }
            foreach (var (listener, counts) in toa.Counts())
            {
                _toaWritten.WithLabels(listener).IncTo(counts.Written);
                _toaFailed.WithLabels(listener).IncTo(counts.Failed);
            }
            foreach (var (listener, counts) in now.PacketListeners)
                Packet(listener, counts);
        });
    }

    private void Packet(string listener, PacketListenerCounts counts)
    {
        _total.WithLabels(listener).IncTo(counts.Connections);
        _active.WithLabels(listener).Set(counts.Active);
        _bytes.WithLabels(listener, ToBackend).IncTo(counts.BytesIn);
        _bytes.WithLabels(listener, ToClient).IncTo(counts.BytesOut);
        _toaWritten.WithLabels(listener).IncTo(counts.ToaWritten);
        _toaFailed.WithLabels(listener).IncTo(counts.ToaNoRoom);
        _packetRefused.WithLabels(listener, "table_full").IncTo(counts.TableFull);
        _packetRefused.WithLabels(listener, "no_backend").IncTo(counts.NoBackend);
        _packetRefused.WithLabels(listener, "no_port").IncTo(counts.NoPort);
        _packetRefused.WithLabels(listener, "no_route").IncTo(counts.NoRoute);
        _packetToaRemoved.WithLabels(listener).IncTo(counts.ToaRemoved);
        _packetMssClamped.WithLabels(listener).IncTo(counts.MssClamped);
        _packetPortsReused.WithLabels(listener).IncTo(counts.PortsReused);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>The counters one listener's connections touch, resolved once.</summary>
    public ListenerMetrics For(string listener)
    {
        // The TOA series show 0 from the start; the writer's counts reach them when scraped.
        _toaWritten.WithLabels(listener);
        _toaFailed.WithLabels(listener);
        return new(_active.WithLabels(listener), _total.WithLabels(listener),
            _bytes.WithLabels(listener, ToBackend), _bytes.WithLabels(listener, ToClient), _retries.WithLabels(listener));
    }

    public void Rejected(string listener, string reason) => _rejected.WithLabels(listener, reason).Inc();

    public void ConnectFailed(Backend backend) => _connectFailures.WithLabels(backend.Listener, backend.Key).Inc();

    /// <summary>Counts a reload by <paramref name="result"/>; a <paramref name="successful"/> one also moves the success time.</summary>
    public void Reloaded(string result, bool successful, TimeProvider time)
    {
        _reloads.WithLabels(result).Inc();
        _lastReloadSuccessful.Set(successful ? 1 : 0);
        if (successful)
            _lastReloadSuccess.Set(time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
    }

    /// <summary>Drops a backend's series once it leaves its pool, so scrapes do not show it forever.</summary>
    public void Forget(Backend backend)
    {
        _choices.RemoveLabelled(backend.Listener, backend.Key);
        _connectFailures.RemoveLabelled(backend.Listener, backend.Key);
        _backendUp.RemoveLabelled(backend.Listener, backend.Key);
        _backendActive.RemoveLabelled(backend.Listener, backend.Key);
        foreach (var status in Enum.GetValues<BackendStatus>())
            _backendState.RemoveLabelled(backend.Listener, backend.Key, StateLabel(status));
    }

    public static string StateLabel(BackendStatus status) => status.ToString().ToLowerInvariant();

    public Task WriteAsync(Stream destination, CancellationToken cancellationToken) =>
        Registry.CollectAndExportAsTextAsync(destination, cancellationToken);
}

/// <summary>One listener's hot-path counters.</summary>
internal sealed record ListenerMetrics(
    Gauge.Child Active, Counter.Child Total, Counter.Child BytesToBackend, Counter.Child BytesToClient, Counter.Child Retries);

/// <summary>A backend's connections open now and since it joined, whichever engine counts them.</summary>
internal readonly record struct BackendSample(Backend Backend, long Active, long Total);

/// <summary>What one scrape reads: every backend, and each packet listener's engine counters.</summary>
internal sealed record MetricsSample(IReadOnlyList<BackendSample> Backends, IReadOnlyList<(string Listener, PacketListenerCounts Counts)> PacketListeners);
