// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Net;

namespace Toa.Cli.CommandLine;

/// <summary>
/// "HOST:PORT" as users type it: <c>203.0.113.7:4321</c>, <c>[2001:db8::7]:2222</c>,
/// or a host name. Errors say what is wrong with which text.
/// </summary>
internal static class EndPointText
{
    /// <summary>Splits and checks "HOST:PORT"; the host may be a name when <paramref name="allowNames"/>.</summary>
    public static bool TryParse(string text, bool allowNames, out string host, out int port, out string error)
    {
        host = "";
        port = 0;
        error = "";
        string portText;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf("]:", StringComparison.Ordinal);
            if (close < 0)
                return Fail(out error, $"'{text}' is not [IPv6]:PORT");
            host = text[1..close];
            portText = text[(close + 2)..];
            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
                return Fail(out error, $"'{host}' in '{text}' is not an IPv6 address");
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0)
                return Fail(out error, $"'{text}' has no port: write ADDRESS:PORT, or [IPv6]:PORT");
            host = text[..colon];
            portText = text[(colon + 1)..];
            if (host.Contains(':'))
                return Fail(out error, $"'{text}': put an IPv6 address in brackets, as in [2001:db8::7]:2222");
            if (!IPAddress.TryParse(host, out _) && (!allowNames || Uri.CheckHostName(host) != UriHostNameType.Dns))
                return Fail(out error, allowNames ? $"'{host}' in '{text}' is neither an address nor a host name" : $"'{host}' in '{text}' is not an IP address");
        }
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
            return Fail(out error, $"port '{portText}' in '{text}' is not between 1 and 65535");
        return true;
    }

    /// <summary>Parses an IP endpoint (no names).</summary>
    public static bool TryParseEndPoint(string text, out IPEndPoint endPoint, out string error)
    {
        endPoint = null!;
        if (!TryParse(text, allowNames: false, out var host, out var port, out error))
            return false;
        endPoint = new IPEndPoint(IPAddress.Parse(host), port);
        return true;
    }

    /// <summary>Resolves a host (address or name) to one endpoint, IPv4 preferred for names.</summary>
    public static async Task<IPEndPoint> ResolveAsync(string host, int port, CancellationToken cancel)
    {
        if (IPAddress.TryParse(host, out var address))
            return new IPEndPoint(address, port);
        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(host, cancel);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new CliException($"cannot resolve '{host}': {e.Message}");
        }
        var chosen = addresses.OrderBy(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 0 : 1).FirstOrDefault()
            ?? throw new CliException($"'{host}' has no address");
        return new IPEndPoint(chosen, port);
    }

    private static bool Fail(out string error, string message)
    {
        error = message;
        return false;
    }

    /// <summary>An endpoint as users write it, IPv6 in brackets.</summary>
    public static string Format(IPEndPoint endPoint) =>
        endPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"[{endPoint.Address}]:{endPoint.Port}" : $"{endPoint.Address}:{endPoint.Port}";
}
