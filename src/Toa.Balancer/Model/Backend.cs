// SPDX-License-Identifier: MIT
using System.Net;

namespace Toa.Balancer.Model;

/// <summary>What health checking says of a backend.</summary>
public enum BackendHealth
{
    /// <summary>Passing checks (backends start here).</summary>
    Healthy,
    /// <summary>Failed <c>fall</c> checks or <c>ejectAfter</c> connects in a row; back after <c>rise</c> good checks.</summary>
    Unhealthy,
}

/// <summary>What an operator said of a backend.</summary>
public enum BackendAdminState
{
    /// <summary>Takes new connections when healthy.</summary>
    Active,
    /// <summary>No new connections; established ones go on; still health-checked.</summary>
    Draining,
    /// <summary>No new connections, established ones are reset, no health checks.</summary>
    Disabled,
}

/// <summary>The one word <c>toa lb status</c> shows for a backend.</summary>
public enum BackendStatus
{
    /// <summary>Active and healthy: takes new connections.</summary>
    Healthy,
    /// <summary>Active but failing health checks.</summary>
    Unhealthy,
    /// <summary>Draining (whatever its health).</summary>
    Draining,
    /// <summary>Disabled (whatever its health).</summary>
    Disabled,
}

/// <summary>
/// One backend of one listener at run time: its settings, health, admin state and connection
/// counts. The object lives as long as the backend stays in the listener's configuration, so
/// reloads keep its state and its established connections.
/// </summary>
public sealed class Backend
{
    private volatile int _weight;
    private volatile int _maxConnections;
    private volatile BackendHealth _health;
    private volatile BackendAdminState _admin;
    private int _active;
    private long _total;

    internal Backend(string listener, IPEndPoint endPoint, int weight, int maxConnections)
    {
        Listener = listener;
        EndPoint = endPoint;
        Key = endPoint.ToString();
        _weight = weight;
        _maxConnections = maxConnections;
    }

    /// <summary>The listener whose pool this backend is in.</summary>
    public string Listener { get; }

    /// <summary>Where connections go.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The address as text ("10.0.0.1:80", "[fd00::1]:80"): the backend's identity in its pool.</summary>
    public string Key { get; }

    /// <summary>Relative share of new connections.</summary>
    public int Weight => _weight;

    /// <summary>Most connections at once; 0 means no limit.</summary>
    public int MaxConnections => _maxConnections;

    /// <summary>What health checking says.</summary>
    public BackendHealth Health => _health;

    /// <summary>What an operator said.</summary>
    public BackendAdminState AdminState => _admin;

    /// <summary>Health and admin state in one word.</summary>
    public BackendStatus Status => _admin switch
    {
        BackendAdminState.Disabled => BackendStatus.Disabled,
        BackendAdminState.Draining => BackendStatus.Draining,
        _ => _health == BackendHealth.Healthy ? BackendStatus.Healthy : BackendStatus.Unhealthy,
    };

    /// <summary>Whether the backend may get new connections (its limit aside).</summary>
    public bool IsAvailable => _admin == BackendAdminState.Active && _health == BackendHealth.Healthy;

    /// <summary>Connections open now.</summary>
    public int ActiveConnections => Volatile.Read(ref _active);

    /// <summary>Connections opened since the backend joined its pool.</summary>
    public long TotalConnections => Interlocked.Read(ref _total);

    /// <summary>Raised, on the thread that made it, after health or admin state changes.</summary>
    internal event Action<Backend>? StateChanged;

    /// <summary>Takes a connection slot unless the backend is at its limit.</summary>
    internal bool TryAcquire()
    {
        while (true)
        {
            var active = Volatile.Read(ref _active);
            var max = _maxConnections;
            if (max > 0 && active >= max)
                return false;
            if (Interlocked.CompareExchange(ref _active, active + 1, active) == active)
            {
                Interlocked.Increment(ref _total);
                return true;
            }
        }
    }

    /// <summary>Gives back a slot taken by <see cref="TryAcquire"/>.</summary>
    internal void Release() => Interlocked.Decrement(ref _active);

    internal void Reconfigure(int weight, int maxConnections)
    {
        var changed = weight != _weight;
        _weight = weight;
        _maxConnections = maxConnections;
        if (changed)
            StateChanged?.Invoke(this);
    }

    internal bool SetHealth(BackendHealth health)
    {
        if (_health == health)
            return false;
        _health = health;
        StateChanged?.Invoke(this);
        return true;
    }

    internal bool SetAdminState(BackendAdminState state)
    {
        if (_admin == state)
            return false;
        _admin = state;
        StateChanged?.Invoke(this);
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Listener}/{Key}";
}
