// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;

namespace Toa.Balancer.Configuration;

/// <summary>Strict parsing of the literal addresses a configuration holds.</summary>
public static class Endpoints
{
    /// <summary>
    /// Parses "a.b.c.d:port" or "[v6]:port". The port is required; IPv4 must be four dotted
    /// numbers, because <see cref="IPAddress.TryParse(string?, out IPAddress?)"/> also takes "10.1" as 10.0.0.1.
    /// </summary>
    public static bool TryParse(string? text, out IPEndPoint endPoint)
    {
        endPoint = null!;
        if (string.IsNullOrEmpty(text))
            return false;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !IPEndPoint.TryParse(text, out var parsed))
            return false;
        if (parsed.AddressFamily == AddressFamily.InterNetworkV6 && !text.StartsWith('['))
            return false;
        if (parsed.AddressFamily == AddressFamily.InterNetwork && !TryParseAddress(text[..colon], out _))
            return false;
        endPoint = parsed;
        return true;
    }

    /// <summary>Parses a literal address, IPv4 as four dotted numbers.</summary>
    public static bool TryParseAddress(string? text, out IPAddress address)
    {
        address = null!;
        if (string.IsNullOrEmpty(text) || !IPAddress.TryParse(text, out var parsed))
            return false;
        if (parsed.AddressFamily == AddressFamily.InterNetwork && text.Count(c => c == '.') != 3)
            return false;
        address = parsed;
        return true;
    }

    /// <summary>The IPv4 address an IPv4-mapped IPv6 endpoint stands for; any other endpoint unchanged.</summary>
    public static IPEndPoint Unmap(IPEndPoint endPoint) => endPoint.Address.IsIPv4MappedToIPv6
        ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port)
        : endPoint;
}
