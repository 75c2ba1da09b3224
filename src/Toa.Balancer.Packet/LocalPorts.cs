// SPDX-License-Identifier: MIT
using System.Collections;
using System.Globalization;
using System.Text;

namespace Toa.Balancer.Packet;

/// <summary>
/// The engine's SNAT ports, kept out of the host's own use: written into
/// net.ipv4.ip_local_reserved_ports (merged with what others reserved there), so neither an
/// ephemeral port nor a bind to port 0 of the balancer's network namespace can take one and have
/// its replies rewritten by the engine. The sysctl files are those of the network namespace of
/// the thread that opens them.
/// </summary>
/// <param name="directory">Where the sysctls are (the namespace's /proc/sys/net/ipv4; a plain directory in tests).</param>
internal sealed class LocalPorts(string directory = LocalPorts.Sysctls)
{
    public const string Sysctls = "/proc/sys/net/ipv4";
    private const int Ports = 65536;

    private string ReservedFile => Path.Combine(directory, "ip_local_reserved_ports");

    private string RangeFile => Path.Combine(directory, "ip_local_port_range");

    /// <summary>
    /// Reserves <paramref name="min"/>..<paramref name="max"/>, keeping every other reservation; returns
    /// the ports it added (those no one had reserved), for <see cref="Release"/>.
    /// </summary>
    public BitArray Reserve(int min, int max)
    {
        var reserved = Parse(File.ReadAllText(ReservedFile));
        var added = new BitArray(Ports);
        for (var port = min; port <= max; port++)
            if (!reserved[port])
                added[port] = reserved[port] = true;
        File.WriteAllText(ReservedFile, Format(reserved));
        return added;
    }

    /// <summary>Gives back what <see cref="Reserve"/> added, leaving others' reservations (made since too).</summary>
    public void Release(BitArray added)
    {
        var reserved = Parse(File.ReadAllText(ReservedFile));
        reserved.And(new BitArray(added).Not());
        File.WriteAllText(ReservedFile, Format(reserved));
    }

    /// <summary>The kernel's ephemeral range (net.ipv4.ip_local_port_range), inclusive.</summary>
    public (int Min, int Max) EphemeralRange()
    {
        var parts = File.ReadAllText(RangeFile).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    /// <summary>"1,5-10" (the kernel's list of ports and ranges) as a set.</summary>
    internal static BitArray Parse(string text)
    {
        var ports = new BitArray(Ports);
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = item.IndexOf('-', StringComparison.Ordinal);
            var first = int.Parse(dash < 0 ? item : item[..dash], CultureInfo.InvariantCulture);
            var last = dash < 0 ? first : int.Parse(item[(dash + 1)..], CultureInfo.InvariantCulture);
            for (var port = first; port <= last; port++)
                ports[port] = true;
        }
        return ports;
    }

    /// <summary>A set as the kernel writes it: ascending, ranges joined, comma-separated; empty for none.</summary>
    internal static string Format(BitArray ports)
    {
        var text = new StringBuilder();
        for (var port = 0; port < Ports; port++)
        {
            if (!ports[port])
                continue;
            var last = port;
            while (last + 1 < Ports && ports[last + 1])
                last++;
            if (text.Length > 0)
                text.Append(',');
            text.Append(CultureInfo.InvariantCulture, $"{port}");
            if (last > port)
                text.Append(CultureInfo.InvariantCulture, $"-{last}");
            port = last;
        }
        // The kernel takes an empty write as "none"; a newline keeps the file's look.
        return text.Append('\n').ToString();
    }
}
