// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Wire;

namespace Toa.Balancer;

/// <summary>Which TOA a listener writes toward its backends.</summary>
public enum ToaMode
{
    /// <summary>No option: backends see the balancer's (or the SNAT) address.</summary>
    Off,
    /// <summary>Tencent CLB: 200/8 for IPv4 clients, 253/20 for IPv6 clients (NAT64).</summary>
    Tencent,
    /// <summary>DPVS: 254/8 for IPv4 clients, 254/20 for IPv6 clients.</summary>
    Dpvs,
}

/// <summary>The names configuration files use for <see cref="ToaMode"/>.</summary>
public static class ToaModes
{
    /// <summary>"off".</summary>
    public const string Off = "off";
    /// <summary>"tencent".</summary>
    public const string Tencent = "tencent";
    /// <summary>"dpvs".</summary>
    public const string Dpvs = "dpvs";

    /// <summary>Parses a mode name, case-insensitively.</summary>
    public static bool TryParse(string? name, out ToaMode mode)
    {
        mode = name?.ToLowerInvariant() switch
        {
            Off => ToaMode.Off,
            Tencent => ToaMode.Tencent,
            Dpvs => ToaMode.Dpvs,
            _ => (ToaMode)(-1),
        };
        return Enum.IsDefined(mode);
    }
}

/// <summary>A listener's TOA settings, as handed to an <see cref="IToaWriter"/>.</summary>
/// <param name="Mode">Which layouts to write.</param>
/// <param name="OnSyn">Whether the SYN carries the option too, not only the handshake ACK and first data.</param>
public readonly record struct ToaSettings(ToaMode Mode, bool OnSyn)
{
    /// <summary>Whether the listener writes a TOA at all.</summary>
    public bool Enabled => Mode != ToaMode.Off;

    /// <summary>
    /// The option to write for <paramref name="client"/>: the layout follows the client's family
    /// (an IPv6 client in front of an IPv4 backend is the NAT64 case and still gets the IPv6 layout).
    /// </summary>
    public ToaAddress AddressFor(IPEndPoint client)
    {
        var format = Mode switch
        {
            ToaMode.Tencent => ToaFormat.Tencent,
            ToaMode.Dpvs => ToaFormat.Dpvs,
            _ => throw new InvalidOperationException("TOA is off for this listener"),
        };
        // Both formats carry either family, so the lookup cannot fail.
        format.TryLayoutFor(client.AddressFamily, out var layout);
        return new ToaAddress(layout, client);
    }
}
