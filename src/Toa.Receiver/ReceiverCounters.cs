// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Text;

namespace Toa.Receiver;

/// <summary>One counter: its value on each possible CPU.</summary>
public sealed record ToaCounter(string Name, IReadOnlyList<ulong> PerCpu)
{
    /// <summary>The sum over every CPU.</summary>
    public ulong Total => PerCpu.Aggregate(0UL, (a, b) => a + b);
}

/// <summary>
/// The receiver's per-CPU counters: toa.ko's seven first, with its meanings, then ours.
/// </summary>
public sealed class ReceiverCounters
{
    /// <summary>How many of the counters are toa.ko's.</summary>
    public const int ModuleCounters = 7;

    internal ReceiverCounters(IReadOnlyList<ToaCounter> counters) => Counters = counters;

    /// <summary>Every counter, toa.ko's first.</summary>
    public IReadOnlyList<ToaCounter> Counters { get; }

    /// <summary>The total of the counter named <paramref name="name"/>.</summary>
    public ulong this[string name] =>
        Counters.FirstOrDefault(c => c.Name == name)?.Total ?? throw new KeyNotFoundException($"no counter {name}");

    /// <summary>
    /// The layout of toa.ko's /proc/net/toa_stats, byte for byte: a header of 34 spaces
    /// then "CPU&lt;n&gt;" and 7 spaces per online CPU; one row per counter, its name
    /// left-justified in 25 columns, ':', then each CPU's value right-justified in 10
    /// columns and a space.
    /// </summary>
    public string FormatProcStats(IReadOnlyList<int> onlineCpus)
    {
        var text = new StringBuilder();
        text.Append(' ', 34);
        foreach (var cpu in onlineCpus)
            text.Append(CultureInfo.InvariantCulture, $"CPU{cpu}       ");
        text.Append('\n');
        foreach (var counter in Counters)
        {
            text.Append(CultureInfo.InvariantCulture, $"{counter.Name,-25}:");
            foreach (var cpu in onlineCpus)
                text.Append(CultureInfo.InvariantCulture, $"{(cpu < counter.PerCpu.Count ? counter.PerCpu[cpu] : 0),10} ");
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The online CPUs, from /sys/devices/system/cpu/online ("0-3,6").</summary>
    public static IReadOnlyList<int> OnlineCpus()
    {
        var cpus = new List<int>();
        foreach (var range in File.ReadAllText("/sys/devices/system/cpu/online").Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var bounds = range.Split('-');
            var first = int.Parse(bounds[0], CultureInfo.InvariantCulture);
            var last = bounds.Length > 1 ? int.Parse(bounds[1], CultureInfo.InvariantCulture) : first;
            for (var cpu = first; cpu <= last; cpu++)
                cpus.Add(cpu);
        }
        return cpus;
    }
}
