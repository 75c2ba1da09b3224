// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;

namespace Toa.Balancer.Configuration;

/// <summary>A validated listener with every default applied and every address parsed.</summary>
internal sealed record ListenerSettings(
    string Name,
    IPEndPoint EndPoint,
    ToaSettings Toa,
    bool ProxyProtocol,
    string Scheduler,
    IPAddress? Snat4,
    IPAddress? Snat6,
    TimeSpan ConnectTimeout,
    TimeSpan IdleTimeout,
    int Retries,
    TimeSpan? FirstByteTimeout,
    HealthSettings Health,
    IReadOnlyList<BackendSettings> Backends,
    string? LogTo = null,
    bool Packet = false,
    IReadOnlyList<string>? Interfaces = null)
{
    /// <summary>
    /// Resolves a listener that <see cref="BalancerConfigLoader.Validate"/> accepted;
    /// <paramref name="log"/> is the top-level connection log, for a listener without its own.
    /// </summary>
    public static ListenerSettings From(ListenerConfig config, LogConfig? log = null)
    {
        var packet = EngineNames.IsPacket(config);
        // The packet engine logs no connection (the kernel sees packets, not connections ending).
        log = packet ? null : config.Log ?? log;
        ToaSettings.TryParse(config.Toa, out var format);
        ProxyProtocolNames.TryParse(config.ProxyProtocol, out var proxyProtocol);
        var health = config.Health ?? new HealthConfig();
        return new ListenerSettings(
            config.Name!,
            Parse(config.Address),
            new ToaSettings(format, config.ToaOnSyn ?? false),
            proxyProtocol,
            ConfigDefaults.SchedulerOf(config),
            config.Snat?.Ipv4 is { } v4 ? IPAddress.Parse(v4) : null,
            config.Snat?.Ipv6 is { } v6 ? IPAddress.Parse(v6) : null,
            config.ConnectTimeout ?? ConfigDefaults.ConnectTimeout,
            config.IdleTimeout ?? ConfigDefaults.IdleTimeout,
            config.Retries ?? ConfigDefaults.Retries,
            config.FirstByteTimeout,
            new HealthSettings(
                health.Interval ?? ConfigDefaults.HealthInterval,
                health.Timeout ?? ConfigDefaults.HealthTimeout,
                health.Rise ?? ConfigDefaults.Rise,
                health.Fall ?? ConfigDefaults.Fall,
                health.EjectAfter ?? ConfigDefaults.EjectAfter,
                health.Http is { } http ? new Health.HttpProbe(http.Path!, http.Expect ?? ConfigDefaults.HttpExpect) : null,
                proxyProtocol),
            (config.Backends ?? []).Select(b => new BackendSettings(Parse(b.Address), b.Weight ?? 1, b.MaxConnections ?? 0)).ToArray(),
            log is { Enabled: not false } ? log.To ?? ConfigDefaults.LogTo : null,
            packet,
            config.Interfaces);
    }

    /// <summary>The engine's name, as configuration files write it.</summary>
    public string Engine => Packet ? EngineNames.Packet : EngineNames.Proxy;

    /// <summary>The SNAT source for a backend of <paramref name="family"/>, if one is configured.</summary>
    public IPAddress? SnatFor(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? Snat6 : Snat4;

    private static IPEndPoint Parse(string? text)
    {
        Endpoints.TryParse(text, out var endPoint);
        return endPoint;
    }
}

/// <summary>
/// Health checking with defaults applied; <c>Http</c> replaces the host's probe (TCP) when set.
/// <c>ProxyHeader</c>: the listener sends PROXY v2, so its backends expect a header first and checks open with a LOCAL one.
/// </summary>
internal sealed record HealthSettings(TimeSpan Interval, TimeSpan Timeout, int Rise, int Fall, int EjectAfter, Health.HttpProbe? Http = null, bool ProxyHeader = false);

/// <summary>A backend with defaults applied.</summary>
internal sealed record BackendSettings(IPEndPoint EndPoint, int Weight, int MaxConnections);
