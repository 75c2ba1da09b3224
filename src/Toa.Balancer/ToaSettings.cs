// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Wire;

namespace Toa.Balancer;

/// <summary>A listener's TOA settings, as handed to an <see cref="IToaWriter"/>.</summary>
/// <param name="Format">Which layouts to write (Core's <see cref="ToaFormat"/>, named as everywhere else); null writes none.</param>
/// <param name="OnSyn">Whether the SYN carries the option too, not only the handshake ACK and first data.</param>
public readonly record struct ToaSettings(ToaFormat? Format, bool OnSyn)
{
    /// <summary>What configuration files call a listener without TOA.</summary>
    public const string Off = "off";

    /// <summary>The formats the balancer writes: both carry either family, as a balancer in front of any client must.</summary>
    public static IReadOnlyList<ToaFormat> Writable { get; } = [ToaFormat.Tencent, ToaFormat.Dpvs];

    /// <summary>
    /// Reads a listener's <c>toa</c> field: null or "off" is no TOA, otherwise a writable format's
    /// name (<see cref="ToaLayoutInfo.Name(ToaFormat)"/>), case-insensitively.
    /// </summary>
    public static bool TryParse(string? name, out ToaFormat? format)
    {
        format = null;
        if (name is null || string.Equals(name, Off, StringComparison.OrdinalIgnoreCase))
            return true;
        if (!ToaLayoutInfo.TryParseFormat(name, out var parsed) || !Writable.Contains(parsed))
            return false;
        format = parsed;
        return true;
    }

    /// <summary>Whether the listener writes a TOA at all.</summary>
    public bool Enabled => Format is not null;

    /// <summary>The format's name, or "off".</summary>
    public string Name => Format?.Name() ?? Off;

    /// <summary>
    /// The option to write for <paramref name="client"/>: the layout follows the client's family
    /// (an IPv6 client in front of an IPv4 backend is the NAT64 case and still gets the IPv6 layout).
    /// </summary>
    public ToaAddress AddressFor(IPEndPoint client)
    {
        var format = Format ?? throw new InvalidOperationException("TOA is off for this listener");
        if (!format.TryLayoutFor(client.AddressFamily, out var layout))
            throw new InvalidOperationException($"the {format.Name()} format cannot carry a client of {client.AddressFamily}");
        return new ToaAddress(layout, client);
    }
}
