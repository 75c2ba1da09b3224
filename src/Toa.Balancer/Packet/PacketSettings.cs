// SPDX-License-Identifier: MIT
using System.Globalization;
using Toa.Balancer.Configuration;

namespace Toa.Balancer.Packet;

/// <summary>What the packet engine's maps hold at most (bpf/fullnat.h).</summary>
public static class PacketLimits
{
    /// <summary>
    /// Packet listeners at most, over the whole configuration: each with a backend to take connections
    /// needs one of FN_TABLE_REGIONS (32) Maglev tables, and the engine keeps one free so that a table can
    /// change while the others keep theirs. (FN_MAX_LISTENERS, 64, leaves room for removed listeners
    /// whose connections last.)
    /// </summary>
    public const int MaxListeners = 31;

    /// <summary>Backends at most, over every packet listener's pool.</summary>
    public const int MaxBackends = 4096;

    /// <summary>The lowest local port the engine may own: the ones below are privileged services' own.</summary>
    public const int FirstLocalPort = 1024;

    /// <summary>Reads <c>localPorts</c>: "FIRST-LAST" within <see cref="FirstLocalPort"/>-65535, FIRST no more than LAST.</summary>
    public static bool TryParsePorts(string? text, out int first, out int last)
    {
        first = last = 0;
        var dash = text?.IndexOf('-') ?? -1;
        return dash > 0
            && int.TryParse(text.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out first)
            && int.TryParse(text.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out last)
            && first >= FirstLocalPort && first <= last && last <= 65535;
    }

    /// <summary>The engine's settings from a validated configuration's <c>packet</c> section, defaults applied.</summary>
    public static PacketEngineSettings Settings(PacketConfig? config)
    {
        TryParsePorts(config?.LocalPorts ?? ConfigDefaults.LocalPorts, out var first, out var last);
        return new PacketEngineSettings(config?.MaxConnections ?? ConfigDefaults.PacketMaxConnections, first, last);
    }
}
