// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Toa.Balancer.Packet;
using Toa.Balancer.Scheduling;
using Toa.Wire;

namespace Toa.Balancer.Configuration;

/// <summary>Collects the problems of one configuration source.</summary>
internal sealed class ConfigProblems(string file)
{
    private readonly List<ConfigProblem> _items = [];

    public IReadOnlyList<ConfigProblem> Items => _items;

    public void Add(string path, object? value, string reason) =>
        _items.Add(new ConfigProblem(file, path, Show(value), reason));

    private static string? Show(object? value) => value switch
    {
        null => null,
        string s => $"\"{s}\"",
        TimeSpan t => $"\"{Duration.Format(t)}\"",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}

/// <summary>Checks one concern of the whole configuration, adding every problem it finds.</summary>
internal interface IConfigValidator
{
    void Validate(BalancerConfig config, ConfigProblems problems);
}

/// <summary>Checks one concern of one listener; <c>path</c> is the listener's, "listeners[1]".</summary>
internal interface IListenerValidator
{
    void Validate(ListenerConfig listener, string path, ConfigProblems problems);
}

/// <summary>The admin endpoint's address and the global limits.</summary>
internal sealed class GlobalValidator : IConfigValidator
{
    public void Validate(BalancerConfig config, ConfigProblems problems)
    {
        if (config.Admin is { Length: > 0 } admin && !Endpoints.TryParse(admin, out _))
            problems.Add("admin", config.Admin, "must be an address and port, \"127.0.0.1:9180\", or \"\" for none");
        if (config.AdminSocket is { Length: > 0 } socket && !Path.IsPathFullyQualified(socket))
            problems.Add("adminSocket", config.AdminSocket, "must be an absolute path, \"/run/toa/lb.sock\", or \"\" for none");
        if (config.AdminTokenFile is { } token && !Path.IsPathFullyQualified(token))
            problems.Add("adminTokenFile", config.AdminTokenFile, "must be an absolute path");
        if (config.MaxConnections < 0)
            problems.Add("maxConnections", config.MaxConnections, "must be 0 (no limit) or more");
        if (config.MaxConnectionsPerSource < 0)
            problems.Add("maxConnectionsPerSource", config.MaxConnectionsPerSource, "must be 0 (no limit) or more");
        if (config.ToaConnections < 1)
            problems.Add("toaConnections", config.ToaConnections, "must be 1 or more");
    }
}

/// <summary>Connection logs, top-level and per listener, go to stdout or to a file named by its full path.</summary>
internal sealed class LogValidator : IConfigValidator
{
    public void Validate(BalancerConfig config, ConfigProblems problems)
    {
        Check(config.Log, "log", problems);
        var listeners = config.Listeners ?? [];
        for (var i = 0; i < listeners.Count; i++)
            Check(listeners[i].Log, $"listeners[{i}].log", problems);
    }

    private static void Check(LogConfig? log, string path, ConfigProblems problems)
    {
        if (log?.To is { } to && to != ConfigDefaults.LogTo && (!Path.IsPathFullyQualified(to) || to.EndsWith('/')))
            problems.Add($"{path}.to", to, $"must be \"{ConfigDefaults.LogTo}\" or a file's absolute path: \"/var/log/toa-lb.log\"");
    }
}

/// <summary>At least one listener; names and addresses present and unique.</summary>
internal sealed class ListenerIdentityValidator : IConfigValidator
{
    public void Validate(BalancerConfig config, ConfigProblems problems)
    {
        var listeners = config.Listeners ?? [];
        if (listeners.Count == 0)
            problems.Add("listeners", null, "at least one listener is required");
        var names = new HashSet<string>(StringComparer.Ordinal);
        var addresses = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < listeners.Count; i++)
        {
            var listener = listeners[i];
            var path = $"listeners[{i}]";
            if (string.IsNullOrWhiteSpace(listener.Name))
                problems.Add($"{path}.name", listener.Name, "a name is required");
            else if (!names.Add(listener.Name))
                problems.Add($"{path}.name", listener.Name, "another listener has this name");
            else if (listener.Name.Contains('/'))
                problems.Add($"{path}.name", listener.Name, "must not contain '/', which admin commands use as a separator");

            if (!Endpoints.TryParse(listener.Address, out var endPoint))
                problems.Add($"{path}.address", listener.Address, "must be an address and port: \"0.0.0.0:80\", \"[::]:443\"");
            else if (!addresses.Add(endPoint.ToString()))
                problems.Add($"{path}.address", listener.Address, "another listener has this address");
        }
    }
}

/// <summary>The TOA format is one the balancer can write.</summary>
internal sealed class ToaValidator : IListenerValidator
{
    public void Validate(ListenerConfig listener, string path, ConfigProblems problems)
    {
        if (!ToaSettings.TryParse(listener.Toa, out var format))
            problems.Add($"{path}.toa", listener.Toa, $"must be {string.Join(", ", ToaSettings.Writable.Select(f => $"\"{f.Name()}\""))} or \"{ToaSettings.Off}\"");
        else if (format is null && listener.ToaOnSyn == true)
            problems.Add($"{path}.toaOnSyn", true, "needs a TOA mode other than \"off\"");
    }
}

/// <summary>The PROXY protocol field names a version the balancer writes.</summary>
internal sealed class ProxyProtocolValidator : IListenerValidator
{
    public void Validate(ListenerConfig listener, string path, ConfigProblems problems)
    {
        if (!ProxyProtocolNames.TryParse(listener.ProxyProtocol, out _))
            problems.Add($"{path}.proxyProtocol", listener.ProxyProtocol, $"must be \"{ProxyProtocolNames.V2}\" or \"{ProxyProtocolNames.Off}\"");
    }
}

/// <summary>The scheduler is a registered policy.</summary>
internal sealed class SchedulerValidator(IReadOnlyCollection<string> known) : IListenerValidator
{
    public void Validate(ListenerConfig listener, string path, ConfigProblems problems)
    {
        if (listener.Scheduler is { } name && !known.Contains(name, StringComparer.OrdinalIgnoreCase))
            problems.Add($"{path}.scheduler", listener.Scheduler, $"unknown scheduler; known: {string.Join(", ", known)}");
    }
}

/// <summary>SNAT sources are literal addresses of the family they are named for.</summary>
internal sealed class SnatValidator : IListenerValidator
{
    public void Validate(ListenerConfig listener, string path, ConfigProblems problems)
    {
        if (listener.Snat is not { } snat)
            return;
        Check(snat.Ipv4, AddressFamily.InterNetwork, $"{path}.snat.ipv4", problems);
        Check(snat.Ipv6, AddressFamily.InterNetworkV6, $"{path}.snat.ipv6", problems);
    }

    private static void Check(string? text, AddressFamily family, string path, ConfigProblems problems)
    {
        if (text is null)
            return;
        if (!Endpoints.TryParseAddress(text, out var address) || address.AddressFamily != family)
            problems.Add(path, text, family == AddressFamily.InterNetwork ? "must be an IPv4 address" : "must be an IPv6 address");
    }
}

/// <summary>Retries after failed backend connects: none or a few.</summary>
internal sealed class RetriesValidator : IListenerValidator
{
    /// <summary>More would keep a client waiting through a whole pool of dead backends, each for <c>connectTimeout</c>.</summary>
    public const int Max = 100;

    public void Validate(ListenerConfig listener, string path, ConfigProblems problems)
    {
        if (listener.Retries is < 0 or > Max)
            problems.Add($"{path}.retries", listener.Retries, $"must be 0 (no retry) to {Max}");
    }
}

/// <summary>Timeouts are positive.</summary>
internal sealed class TimeoutValidator : IListenerValidator
{
    public void Validate(ListenerConfig listener, string path, ConfigProblems problems)
    {
        if (listener.ConnectTimeout <= TimeSpan.Zero)
            problems.Add($"{path}.connectTimeout", listener.ConnectTimeout, "must be longer than 0");
        if (listener.IdleTimeout <= TimeSpan.Zero)
            problems.Add($"{path}.idleTimeout", listener.IdleTimeout, "must be longer than 0");
        if (listener.FirstByteTimeout <= TimeSpan.Zero)
            problems.Add($"{path}.firstByteTimeout", listener.FirstByteTimeout, "must be longer than 0; leave it out for none");
    }
}

/// <summary>Health checking's interval, timeout and thresholds.</summary>
internal sealed class HealthValidator : IListenerValidator
{
    public void Validate(ListenerConfig listener, string path, ConfigProblems problems)
    {
        if (listener.Health is not { } health)
            return;
        var interval = health.Interval ?? ConfigDefaults.HealthInterval;
        var timeout = health.Timeout ?? ConfigDefaults.HealthTimeout;
        if (interval <= TimeSpan.Zero)
            problems.Add($"{path}.health.interval", interval, "must be longer than 0");
        if (timeout <= TimeSpan.Zero)
            problems.Add($"{path}.health.timeout", timeout, "must be longer than 0");
        else if (timeout > interval && interval > TimeSpan.Zero)
            problems.Add($"{path}.health.timeout", timeout, $"must not be longer than the interval ({Duration.Format(interval)})");
        if (health.Rise < 1)
            problems.Add($"{path}.health.rise", health.Rise, "must be 1 or more");
        if (health.Fall < 1)
            problems.Add($"{path}.health.fall", health.Fall, "must be 1 or more");
        if (health.EjectAfter < 0)
            problems.Add($"{path}.health.ejectAfter", health.EjectAfter, "must be 0 (off) or more");
        if (health.Http is { } http)
        {
            if (string.IsNullOrEmpty(http.Path))
                problems.Add($"{path}.health.http.path", http.Path, "a path is required: \"/healthz\"");
            else if (!http.Path.StartsWith('/') || http.Path.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || http.Path.Length > MaxHttpPath)
                problems.Add($"{path}.health.http.path", http.Path, $"must start with '/' and have no spaces or control characters, at most {MaxHttpPath} characters: \"/healthz\"");
            if (http.Expect is < 100 or > 599)
                problems.Add($"{path}.health.http.expect", http.Expect, "must be an HTTP status code, 100 to 599");
        }
    }

    /// <summary>A request line, not a document: longer paths are a mistake in the file.</summary>
    private const int MaxHttpPath = 1024;
}

/// <summary>A non-empty pool of distinct backends with sane weights and limits.</summary>
internal sealed class BackendValidator : IListenerValidator
{
    public const int MaxWeight = 65535;

    public void Validate(ListenerConfig listener, string path, ConfigProblems problems)
    {
        var backends = listener.Backends ?? [];
        if (backends.Count == 0)
            problems.Add($"{path}.backends", null, "at least one backend is required");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < backends.Count; i++)
        {
            var backend = backends[i];
            var at = $"{path}.backends[{i}]";
            if (!Endpoints.TryParse(backend.Address, out var endPoint) || endPoint.Port == 0)
                problems.Add($"{at}.address", backend.Address, "must be an address and a port other than 0: \"10.0.0.1:80\", \"[fd00::1]:80\"");
            else if (!seen.Add(endPoint.ToString()))
                problems.Add($"{at}.address", backend.Address, "this backend is already in the pool");
            if (backend.Weight is < 1 or > MaxWeight)
                problems.Add($"{at}.weight", backend.Weight, $"must be 1 to {MaxWeight}");
            if (backend.MaxConnections < 0)
                problems.Add($"{at}.maxConnections", backend.MaxConnections, "must be 0 (no limit) or more");
        }
    }
}

/// <summary>
/// The engine is one there is; a packet listener asks only for what the packet engine does (it
/// holds no connection, so nothing about connecting, retrying or a connection's first byte
/// applies); the engine's own settings, and the limits of its maps.
/// </summary>
internal sealed class EngineValidator : IConfigValidator
{
    public void Validate(BalancerConfig config, ConfigProblems problems)
    {
        var listeners = config.Listeners ?? [];
        int packetListeners = 0, packetBackends = 0;
        for (var i = 0; i < listeners.Count; i++)
        {
            var listener = listeners[i];
            var path = $"listeners[{i}]";
            if (!EngineNames.TryParse(listener.Engine, out var packet))
            {
                problems.Add($"{path}.engine", listener.Engine, $"must be \"{EngineNames.Proxy}\" or \"{EngineNames.Packet}\"");
                continue;
            }
            if (!packet)
            {
                if (listener.Interfaces is not null)
                    problems.Add($"{path}.interfaces", null, $"applies to packet listeners only (\"engine\": \"{EngineNames.Packet}\")");
                continue;
            }
            packetListeners++;
            packetBackends += listener.Backends?.Count ?? 0;
            CheckListener(listener, path, problems);
        }
        if (packetListeners > PacketLimits.MaxListeners)
            problems.Add("listeners", packetListeners, $"at most {PacketLimits.MaxListeners} listeners may use the packet engine");
        if (packetBackends > PacketLimits.MaxBackends)
            problems.Add("listeners", packetBackends, $"at most {PacketLimits.MaxBackends} backends in all may be behind packet listeners");
        if (config.Packet is { } settings)
        {
            if (settings.MaxConnections < 1)
                problems.Add("packet.maxConnections", settings.MaxConnections, "must be 1 or more");
            if (settings.LocalPorts is { } ports && !PacketLimits.TryParsePorts(ports, out _, out _))
                problems.Add("packet.localPorts", ports, $"must be a range of ports \"FIRST-LAST\" within {PacketLimits.FirstLocalPort}-65535: \"{ConfigDefaults.LocalPorts}\"");
        }
    }

    private static void CheckListener(ListenerConfig listener, string path, ConfigProblems problems)
    {
        const string NoConnection = "does not apply to the packet engine, which holds no connection; leave it out";
        if (listener.Scheduler is { } scheduler && !string.Equals(scheduler, SchedulingPolicies.Maglev, StringComparison.OrdinalIgnoreCase))
            problems.Add($"{path}.scheduler", scheduler, "the packet engine schedules in the kernel with Maglev only");
        if (ProxyProtocolNames.TryParse(listener.ProxyProtocol, out var proxy) && proxy)
            problems.Add($"{path}.proxyProtocol", listener.ProxyProtocol, "the packet engine does not touch the payload, so it cannot send a PROXY header; use toa");
        if (listener.ToaOnSyn == true)
            problems.Add($"{path}.toaOnSyn", true, "the packet engine writes the TOA in the handshake ACK and the first data, never in the SYN");
        if (listener.ConnectTimeout is { } connect)
            problems.Add($"{path}.connectTimeout", connect, NoConnection);
        if (listener.Retries is { } retries)
            problems.Add($"{path}.retries", retries, "the packet engine forwards the client's own SYN, so there is no connect to retry; leave it out");
        if (listener.FirstByteTimeout is { } firstByte)
            problems.Add($"{path}.firstByteTimeout", firstByte, NoConnection);
        if (listener.Log is { Enabled: not false })
            problems.Add($"{path}.log", null, "the packet engine writes no connection log (it sees packets, not connections ending)");
        if (listener.Interfaces is { } interfaces)
            CheckInterfaces(interfaces, $"{path}.interfaces", problems);

        if (!Endpoints.TryParse(listener.Address, out var endPoint))
            return;
        if (endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any))
            problems.Add($"{path}.address", listener.Address, "a packet listener's address is one of the host's own, not a wildcard");
        var backends = listener.Backends ?? [];
        var families = new HashSet<AddressFamily>();
        for (var j = 0; j < backends.Count; j++)
        {
            if (backends[j].MaxConnections is > 0)
                problems.Add($"{path}.backends[{j}].maxConnections", backends[j].MaxConnections, "the packet engine has no per-backend limit; leave it out");
            if (Endpoints.TryParse(backends[j].Address, out var backend))
                families.Add(backend.AddressFamily);
        }
        // The datapath rewrites toward IPv4 only: an IPv6 listener's clients reach IPv4 backends through NAT64.
        if (families.Contains(AddressFamily.InterNetworkV6))
            problems.Add($"{path}.backends", null, "the packet engine reaches IPv4 backends only (an IPv6 listener's clients are translated to IPv4: NAT64)");
    }

    private static void CheckInterfaces(IReadOnlyList<string> interfaces, string path, ConfigProblems problems)
    {
        if (interfaces.Count == 0)
            problems.Add(path, null, "name at least one interface, or leave it out to attach where the address and routes are");
        for (var i = 0; i < interfaces.Count; i++)
        {
            // IFNAMSIZ is 16 with the terminating zero; the kernel refuses '/', ':' is an alias, whitespace never.
            var name = interfaces[i];
            if (string.IsNullOrEmpty(name) || name.Length > 15 || name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c) || char.IsControl(c)))
                problems.Add($"{path}[{i}]", name, "must be an interface's name: at most 15 characters, no '/', ':' or spaces");
        }
    }
}
