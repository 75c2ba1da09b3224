// SPDX-License-Identifier: MIT
using System.Net;
using Microsoft.Extensions.Logging;
using Toa.Balancer.Configuration;
using Toa.Balancer.Model;
using Toa.Balancer.Relay;
using Toa.Balancer.Scheduling;

namespace Toa.Balancer.Packet;

/// <summary>
/// A listener the packet engine balances: its pool with active health checks (passive ejection
/// needs connects the balancer makes, and it makes none) and admin states, as a proxy listener's;
/// no socket. <see cref="Desired"/> turns the pool into what the engine runs: every backend, and a
/// Maglev table over those that take new connections.
/// </summary>
internal sealed class PacketListenerRuntime : IAsyncDisposable
{
    private volatile ListenerSettings _settings;

    /// <summary>Starts the pool's health checks; <paramref name="changed"/> hears whenever the table may have changed (health, admin state, weight), on whichever thread changed it.</summary>
    public PacketListenerRuntime(ListenerSettings settings, HostContext context, Action changed)
    {
        Name = settings.Name;
        _settings = settings;
        Pool = new BackendPool(Name, context.Probe, context.Time, context.LoggerFactory.CreateLogger("Toa.Balancer.Health"), context.Metrics);
        Pool.Apply(settings);
        Pool.AvailableChanged += changed;
    }

    public string Name { get; }

    public BackendPool Pool { get; }

    public ListenerSettings Settings => _settings;

    /// <summary>Takes reloaded settings (same name; the address may change); returns the removed backends' checkers to dispose.</summary>
    public IReadOnlyList<IAsyncDisposable> Apply(ListenerSettings settings)
    {
        _settings = settings;
        return Pool.Apply(settings);
    }

    /// <summary>The listener as the engine should run it now.</summary>
    public PacketListener Desired()
    {
        var settings = _settings;
        var (all, available) = Pool.Snapshot();
        // Built once per set of available backends: a new set replaces it whenever one changes.
        var table = available.GetOrCreateState(all, static (set, all) => Table(set, all));
        return new PacketListener(settings.Name, settings.EndPoint, settings.Toa, settings.Snat4, settings.Snat6, settings.Interfaces,
            settings.IdleTimeout, all.Select(b => b.EndPoint).ToArray(), table);
    }

    /// <summary>Maglev over <paramref name="available"/>, its slots pointing into <paramref name="all"/> (what the engine indexes).</summary>
    private static int[] Table(BackendSet available, Backend[] all)
    {
        if (available.Count == 0)
            return [];
        var maglev = new MaglevTable(MaglevPolicy.Keys(available), MaglevPolicy.Weights(available), PacketListener.TableSize);
        var index = available.Select(b => Array.IndexOf(all, b)).ToArray();
        var slots = maglev.Slots;
        var table = new int[slots.Length];
        for (var i = 0; i < slots.Length; i++)
            table[i] = index[slots[i]];
        return table;
    }

    public ValueTask DisposeAsync() => Pool.DisposeAsync();
}
