// SPDX-License-Identifier: MIT
namespace Toa.Balancer.Configuration;

// The records mirror the file: a field the file leaves out is null and means the default in
// ConfigDefaults. (Property initializers would not do: the JSON source generator sets every
// init-only property, absent ones to default(T).)

/// <summary>
/// The whole balancer configuration, as read from one JSON file. Immutable with value
/// equality, so a reload can tell what changed (see <c>docs/balancer.md</c> for the format).
/// </summary>
public sealed record BalancerConfig
{
    /// <summary>
    /// The TCP address of the admin endpoint (<c>GET /metrics</c>, <c>GET /status</c>); "" turns it
    /// off. It takes commands only with <see cref="AdminTokenFile"/>. Null: <see cref="ConfigDefaults.Admin"/>.
    /// </summary>
    public string? Admin { get; init; }

    /// <summary>
    /// The admin endpoint's Unix socket, which takes every request including commands (drain,
    /// disable, enable, reload); mode 0660, group <c>toa</c> when that group exists. "" turns it
    /// off. Null: <see cref="ConfigDefaults.AdminSocket"/>.
    /// </summary>
    public string? AdminSocket { get; init; }

    /// <summary>
    /// A file holding a token that commands over TCP must carry (<c>Authorization: Bearer TOKEN</c>);
    /// without it the TCP endpoint refuses commands. Null: none.
    /// </summary>
    public string? AdminTokenFile { get; init; }

    /// <summary>
    /// Most client connections relayed at once over all listeners; beyond it new clients are reset.
    /// 0 means no limit. Null: what the descriptor limit allows (RLIMIT_NOFILE less what the process
    /// holds besides its connections and an eighth, at least 64, kept spare; two per connection).
    /// </summary>
    public int? MaxConnections { get; init; }

    /// <summary>Most client connections relayed at once from one client address, over all listeners; 0 or null means no limit.</summary>
    public int? MaxConnectionsPerSource { get; init; }

    /// <summary>How long a graceful shutdown waits for established connections before it resets them. Null: <see cref="ConfigDefaults.ShutdownTimeout"/>.</summary>
    public TimeSpan? ShutdownTimeout { get; init; }

    /// <summary>The connection log of every listener that has none of its own. Null: no connection log.</summary>
    public LogConfig? Log { get; init; }

    /// <summary>The packet engine's settings, shared by every listener whose engine is "packet". Null: every default.</summary>
    public PacketConfig? Packet { get; init; }

    /// <summary>
    /// Backend connections of proxy listeners whose TOA state the sender keeps in its connections map
    /// at once (about 128 bytes each); beyond, a connection's state stays in socket storage (about 400).
    /// Read when the TOA writer starts; a later reload keeps the first. Null: <see cref="ConfigDefaults.ToaConnections"/>.
    /// </summary>
    public int? ToaConnections { get; init; }

    /// <summary>The listeners, each with its own pool of backends.</summary>
    public IReadOnlyList<ListenerConfig>? Listeners { get; init; }

    /// <inheritdoc />
    public bool Equals(BalancerConfig? other) =>
        other is not null
        && Admin == other.Admin
        && AdminSocket == other.AdminSocket
        && AdminTokenFile == other.AdminTokenFile
        && Equals(Log, other.Log)
        && MaxConnections == other.MaxConnections
        && MaxConnectionsPerSource == other.MaxConnectionsPerSource
        && ShutdownTimeout == other.ShutdownTimeout
        && Equals(Packet, other.Packet)
        && ToaConnections == other.ToaConnections
        && Sequences.Equal(Listeners, other.Listeners);

    /// <inheritdoc />
    public override int GetHashCode() =>
        HashCode.Combine(Admin, AdminSocket, AdminTokenFile, MaxConnections, MaxConnectionsPerSource, ShutdownTimeout, HashCode.Combine(Log, Packet, ToaConnections), Sequences.Hash(Listeners));
}

/// <summary>One listening address and the pool of backends it forwards to.</summary>
public sealed record ListenerConfig
{
    /// <summary>A unique name: metrics labels and admin commands use it.</summary>
    public string? Name { get; init; }

    /// <summary>
    /// The address and port to listen on: "0.0.0.0:80", "[::]:443". IPv6 listeners accept IPv6 only.
    /// A packet listener's address is one of the host's own, never a wildcard.
    /// </summary>
    public string? Address { get; init; }

    /// <summary>
    /// Which engine balances the listener (see <see cref="EngineNames"/>): "proxy" relays each connection
    /// through two sockets, "packet" rewrites its packets in the kernel (FULLNAT). Null: <see cref="EngineNames.Proxy"/>.
    /// </summary>
    public string? Engine { get; init; }

    /// <summary>
    /// The interfaces a packet listener's programs attach to: "eth0". Null: those that carry its
    /// address and the routes to its backends, found in the kernel's tables. Packet listeners only.
    /// </summary>
    public IReadOnlyList<string>? Interfaces { get; init; }

    /// <summary>Which TOA to write toward backends: "tencent", "dpvs" or "off". Null: off.</summary>
    public string? Toa { get; init; }

    /// <summary>Also put the TOA in the SYN (LVS does; most receivers read the handshake ACK). Null: false.</summary>
    public bool? ToaOnSyn { get; init; }

    /// <summary>
    /// Whether backend connections start with a PROXY protocol header naming the client: "v2"
    /// (HAProxy's binary form, which nginx, HAProxy and <c>UseToa</c> parse) or "off". Independent of
    /// <see cref="Toa"/>: either, both or neither. Null: off.
    /// </summary>
    public string? ProxyProtocol { get; init; }

    /// <summary>
    /// The scheduling policy's name (see <see cref="Scheduling.SchedulingPolicies"/>). Null: <see cref="ConfigDefaults.Scheduler"/>,
    /// or <see cref="Scheduling.SchedulingPolicies.Maglev"/> (the only one it can do) for a packet listener.
    /// </summary>
    public string? Scheduler { get; init; }

    /// <summary>Source addresses for backend connections; without one the kernel picks the balancer's own.</summary>
    public SnatConfig? Snat { get; init; }

    /// <summary>How long connecting to a backend may take before it counts as a failure. Null: <see cref="ConfigDefaults.ConnectTimeout"/>.</summary>
    public TimeSpan? ConnectTimeout { get; init; }

    /// <summary>A connection that moves no byte either way for this long is closed. Null: <see cref="ConfigDefaults.IdleTimeout"/>.</summary>
    public TimeSpan? IdleTimeout { get; init; }

    /// <summary>
    /// How many other backends a client is sent to when connecting to its backend fails (refused,
    /// reset, timed out), before the client sees anything; a backend that failed is not tried
    /// again for that client. 0 resets the client at the first failure. Null: <see cref="ConfigDefaults.Retries"/>.
    /// </summary>
    public int? Retries { get; init; }

    /// <summary>
    /// A client that sends no byte for this long after it connected is reset, backend connection
    /// and all (for protocols where the client speaks first). Null: no such timeout.
    /// </summary>
    public TimeSpan? FirstByteTimeout { get; init; }

    /// <summary>Active and passive health checking of this listener's backends. Null: every default.</summary>
    public HealthConfig? Health { get; init; }

    /// <summary>This listener's connection log, in place of the top-level one. Null: the top-level one.</summary>
    public LogConfig? Log { get; init; }

    /// <summary>The pool.</summary>
    public IReadOnlyList<BackendConfig>? Backends { get; init; }

    /// <inheritdoc />
    public bool Equals(ListenerConfig? other) =>
        other is not null
        && Name == other.Name
        && Address == other.Address
        && Engine == other.Engine
        && Sequences.Equal(Interfaces, other.Interfaces)
        && Toa == other.Toa
        && ToaOnSyn == other.ToaOnSyn
        && ProxyProtocol == other.ProxyProtocol
        && Scheduler == other.Scheduler
        && Equals(Snat, other.Snat)
        && ConnectTimeout == other.ConnectTimeout
        && IdleTimeout == other.IdleTimeout
        && Retries == other.Retries
        && FirstByteTimeout == other.FirstByteTimeout
        && Equals(Health, other.Health)
        && Equals(Log, other.Log)
        && Sequences.Equal(Backends, other.Backends);

    /// <inheritdoc />
    public override int GetHashCode() =>
        HashCode.Combine(Name, Address, Engine, Toa, ProxyProtocol, Scheduler, Snat, HashCode.Combine(Health, Sequences.Hash(Interfaces), Sequences.Hash(Backends)));
}

/// <summary>The packet engine's settings (<c>"packet"</c>), for every packet listener together.</summary>
public sealed record PacketConfig
{
    /// <summary>Connections the engine tracks at most; a new one beyond is refused (and counted). Null: <see cref="ConfigDefaults.PacketMaxConnections"/>.</summary>
    public int? MaxConnections { get; init; }

    /// <summary>
    /// The local ports the engine owns for SNAT, "FIRST-LAST" within 1024-65535; the host's own
    /// connections are kept off them (ip_local_reserved_ports). Null: <see cref="ConfigDefaults.LocalPorts"/>.
    /// </summary>
    public string? LocalPorts { get; init; }
}

/// <summary>
/// A connection log like HAProxy's tcplog: one line per client connection when it ends or is
/// refused (see <c>docs/balancer.md</c>). Off unless a <c>log</c> is given.
/// </summary>
public sealed record LogConfig
{
    /// <summary>Whether connections are logged; false turns a listener's log off under a top-level one. Null: true.</summary>
    public bool? Enabled { get; init; }

    /// <summary>"stdout" (the journal, under systemd) or a file's absolute path, appended to. Null: <see cref="ConfigDefaults.LogTo"/>.</summary>
    public string? To { get; init; }
}

/// <summary>Source addresses (SNAT) for backend connections, one per family.</summary>
public sealed record SnatConfig
{
    /// <summary>Source for connections to IPv4 backends.</summary>
    public string? Ipv4 { get; init; }

    /// <summary>Source for connections to IPv6 backends.</summary>
    public string? Ipv6 { get; init; }
}

/// <summary>One real server.</summary>
public sealed record BackendConfig
{
    /// <summary>Address and port: "10.0.0.1:80", "[fd00::1]:80".</summary>
    public string? Address { get; init; }

    /// <summary>Relative share of new connections, 1 to 65535. Null: 1.</summary>
    public int? Weight { get; init; }

    /// <summary>Most connections to this backend at once; 0 or null means no limit.</summary>
    public int? MaxConnections { get; init; }
}

/// <summary>
/// Health checking. Active: a TCP connect (or, with <see cref="Http"/>, an HTTP request) every
/// <see cref="Interval"/>; <see cref="Fall"/> failures in a row take a backend out, <see cref="Rise"/>
/// successes bring it back.
/// Passive: <see cref="EjectAfter"/> failed client connects in a row take it out too.
/// </summary>
public sealed record HealthConfig
{
    /// <summary>Time between checks of one backend. Null: <see cref="ConfigDefaults.HealthInterval"/>.</summary>
    public TimeSpan? Interval { get; init; }

    /// <summary>How long one check may take; no longer than the interval. Null: <see cref="ConfigDefaults.HealthTimeout"/>.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Successful checks in a row that bring an unhealthy backend back. Null: <see cref="ConfigDefaults.Rise"/>.</summary>
    public int? Rise { get; init; }

    /// <summary>Failed checks in a row that make a healthy backend unhealthy. Null: <see cref="ConfigDefaults.Fall"/>.</summary>
    public int? Fall { get; init; }

    /// <summary>Failed client connects in a row that eject a backend; 0 turns passive ejection off. Null: <see cref="ConfigDefaults.EjectAfter"/>.</summary>
    public int? EjectAfter { get; init; }

    /// <summary>Check with an HTTP request rather than a bare TCP connect. Null: TCP.</summary>
    public HttpHealthConfig? Http { get; init; }
}

/// <summary>
/// An HTTP health check: <c>GET</c> <see cref="Path"/> from each backend (plain HTTP/1.1, its
/// address as the Host, a new connection each time); healthy when the status is <see cref="Expect"/>
/// within the check's timeout.
/// </summary>
public sealed record HttpHealthConfig
{
    /// <summary>The request's path and query, starting with "/": "/healthz". Required.</summary>
    public string? Path { get; init; }

    /// <summary>The status code a healthy backend answers, 100 to 599. Null: <see cref="ConfigDefaults.HttpExpect"/>.</summary>
    public int? Expect { get; init; }
}

/// <summary>The names a listener's <see cref="ListenerConfig.ProxyProtocol"/> takes.</summary>
public static class ProxyProtocolNames
{
    /// <summary>No header.</summary>
    public const string Off = "off";

    /// <summary>A version 2 (binary) header before the client's first byte.</summary>
    public const string V2 = "v2";

    /// <summary>Reads the field: null or "off" is false, "v2" true (case-insensitively); anything else is refused.</summary>
    public static bool TryParse(string? name, out bool enabled)
    {
        enabled = string.Equals(name, V2, StringComparison.OrdinalIgnoreCase);
        return enabled || name is null || string.Equals(name, Off, StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>The names a listener's <see cref="ListenerConfig.Engine"/> takes.</summary>
public static class EngineNames
{
    /// <summary>Each client connection relayed between two sockets of the balancer process.</summary>
    public const string Proxy = "proxy";

    /// <summary>Each client connection rewritten packet by packet in the kernel (FULLNAT); no socket in the balancer.</summary>
    public const string Packet = "packet";

    /// <summary>Reads the field: null or "proxy" is false, "packet" true (case-insensitively); anything else is refused.</summary>
    public static bool TryParse(string? name, out bool packet)
    {
        packet = string.Equals(name, Packet, StringComparison.OrdinalIgnoreCase);
        return packet || name is null || string.Equals(name, Proxy, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether a validated listener uses the packet engine.</summary>
    public static bool IsPacket(ListenerConfig listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        return TryParse(listener.Engine, out var packet) && packet;
    }
}

/// <summary>What a field the file leaves out means.</summary>
public static class ConfigDefaults
{
    /// <summary>The admin endpoint's TCP address (metrics and status): loopback only.</summary>
    public const string Admin = "127.0.0.1:9180";

    /// <summary>The admin endpoint's Unix socket (every request, commands included).</summary>
    public const string AdminSocket = "/run/toa/lb.sock";

    /// <summary>Graceful shutdown's wait for established connections.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Weights are honoured and, when equal, this is plain round robin.</summary>
    public const string Scheduler = Scheduling.SchedulingPolicies.WeightedRoundRobin;

    /// <summary>The scheduler a validated listener runs: its own, else its engine's default (Maglev, the only one, for the packet engine).</summary>
    public static string SchedulerOf(ListenerConfig listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        return listener.Scheduler ?? (EngineNames.IsPacket(listener) ? Scheduling.SchedulingPolicies.Maglev : Scheduler);
    }

    /// <summary>Connect timeout toward a backend.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Idle timeout of a relayed connection.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Other backends tried after a failed connect, as HAProxy's <c>retries 3</c> with <c>option redispatch</c>.</summary>
    public const int Retries = 3;

    /// <summary>Time between health checks.</summary>
    public static readonly TimeSpan HealthInterval = TimeSpan.FromSeconds(2);

    /// <summary>Health check timeout.</summary>
    public static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Good checks in a row to come back.</summary>
    public const int Rise = 2;

    /// <summary>Failed checks in a row to go out.</summary>
    public const int Fall = 3;

    /// <summary>Failed client connects in a row to be ejected.</summary>
    public const int EjectAfter = 3;

    /// <summary>Where the connection log goes.</summary>
    public const string LogTo = "stdout";

    /// <summary>The status an HTTP health check expects.</summary>
    public const int HttpExpect = 200;

    /// <summary>Connections the packet engine tracks at most (two flow entries each).</summary>
    public const int PacketMaxConnections = 131072;

    /// <summary>Backend connections the sender's connections map holds (as the receiver's <c>toa load --connections</c>).</summary>
    public const int ToaConnections = 16384;

    /// <summary>The packet engine's SNAT ports: above the kernel's default ephemeral range (32768-60999).</summary>
    public const string LocalPorts = "61000-65535";
}

/// <summary>Sequence equality for the configuration's lists, which records do not compare by value.</summary>
internal static class Sequences
{
    public static bool Equal<T>(IReadOnlyList<T>? a, IReadOnlyList<T>? b) =>
        ReferenceEquals(a, b) || (a is not null && b is not null && a.SequenceEqual(b));

    public static int Hash<T>(IReadOnlyList<T>? items)
    {
        var hash = new HashCode();
        foreach (var item in items ?? [])
            hash.Add(item);
        return hash.ToHashCode();
    }
}
