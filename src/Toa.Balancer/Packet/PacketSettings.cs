// SPDX-License-Identifier: MIT
using System.Globalization;
using Toa.Balancer.Configuration;

namespace Toa.Balancer.Packet;

/// <summary>What the packet engine's maps hold at most (FN_MAX_LISTENERS and FN_MAX_BACKENDS in bpf/fullnat.h).</summary>
public static class PacketLimits
{
    /// <summary>Packet listeners at most, over the whole configuration.</summary>
    public const int MaxListeners = 64;

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
