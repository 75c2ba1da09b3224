// SPDX-License-Identifier: MIT
using System.Globalization;

namespace Toa.Balancer.Management;

/// <summary>Lays out a <see cref="BalancerStatus"/> as a plain text table, one row per backend.</summary>
public static class StatusTable
{
    private static readonly string[] s_header = ["LISTENER", "ADDRESS", "ENGINE", "TOA", "SCHEDULER", "BACKEND", "WEIGHT", "STATUS", "ACTIVE", "TOTAL", "MAX"];

    /// <summary>The table's rows, header first, cells unpadded (for renderers that draw their own tables).</summary>
    public static IReadOnlyList<string[]> Rows(BalancerStatus status)
    {
        var rows = new List<string[]> { s_header };
        foreach (var listener in status.Listeners)
        {
            foreach (var b in listener.Backends)
            {
                rows.Add([listener.Name, listener.Address, listener.Engine, listener.Toa, listener.Scheduler, b.Address,
                    Num(b.Weight), b.Status, Num(b.ActiveConnections), Num(b.TotalConnections), b.MaxConnections == 0 ? "-" : Num(b.MaxConnections)]);
            }
        }
        return rows;
    }

    /// <summary>Writes the table with columns padded to their widest cell, then a line of totals.</summary>
    public static void Write(BalancerStatus status, TextWriter output)
    {
        var rows = Rows(status);
        var widths = Enumerable.Range(0, s_header.Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
            output.WriteLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        output.WriteLine($"{Num(status.ActiveConnections)} active connections (limit {(status.MaxConnections == 0 ? "none" : Num(status.MaxConnections))})");
        if (status.Packet is { } packet)
            output.WriteLine($"{Num(packet.ActiveConnections)} connections in the packet engine (limit {Num(packet.MaxConnections)})");
    }

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);
}
