// SPDX-License-Identifier: MIT
using Toa.Bpf;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>What a load of the receiver costs the kernel before any connection (bench/receiver/memory.sh measures the rest).</summary>
public class MemoryTests
{
    [Fact]
    public void FixedCost_FreshLoad_AtMostOneMegabyte()
    {
        using var lab = new ReceiverLab();

        var charged = new Dictionary<string, long>();
        foreach (var pin in Directory.EnumerateFiles(lab.PinDirectory))
        {
            BpfMap map;
            try
            {
                map = BpfMap.OpenPinned(pin);
            }
            catch (BpfException)
            {
                continue; // a link's pin
            }
            using (map)
                charged[Path.GetFileName(pin)] = Memlock(map.Fd);
        }

        // The maps the programs use are all pinned: the parked SYNs and the trace's ring buffer among them.
        Assert.Contains("parked", charged.Keys);
        Assert.Contains("trace-events", charged.Keys);
        Assert.True(charged.Values.Sum() <= 1_000_000, string.Join(", ", charged.Select(c => $"{c.Key} {c.Value} B")));
    }

    // The bytes the kernel charges for a map, as /proc/PID/fdinfo shows them for its descriptor.
    private static long Memlock(int fd) =>
        long.Parse(File.ReadLines($"/proc/self/fdinfo/{fd}").Single(l => l.StartsWith("memlock:", StringComparison.Ordinal))["memlock:".Length..].Trim());
}
