// SPDX-License-Identifier: MIT
using Toa.Bpf;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>What a load of the receiver costs the kernel before any connection (bench/receiver/memory.sh measures the rest).</summary>
public class MemoryTests
{
    private const uint HashMap = 1;
    private const uint NoPrealloc = 1;

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
                charged[Path.GetFileName(pin)] = Charged(map.Fd);
        }

        // The maps the programs use are all pinned: the parked SYNs and the trace's ring buffer among them.
        Assert.Contains("parked", charged.Keys);
        Assert.Contains("trace-events", charged.Keys);
        Assert.True(charged.Values.Sum() <= 1_000_000, string.Join(", ", charged.Select(c => $"{c.Key} {c.Value} B")));
    }

    // The bytes the kernel charges for a map before any entry, from /proc/PID/fdinfo. Before 6.4 its
    // memlock line is a formula that counts every entry of a hash as if preallocated; a hash without
    // preallocation allocates only its buckets up front (a power of two of them, 16 bytes each).
    private static long Charged(int fd)
    {
        var info = File.ReadLines($"/proc/self/fdinfo/{fd}")
            .Select(l => l.Split(':', 2))
            .Where(f => f.Length == 2)
            .ToDictionary(f => f[0], f => f[1].Trim());
        var type = uint.Parse(info["map_type"]);
        var flags = Convert.ToUInt32(info["map_flags"], 16);
        if (Environment.OSVersion.Version < new Version(6, 4) && type == HashMap && (flags & NoPrealloc) != 0)
            return (long)System.Numerics.BitOperations.RoundUpToPowerOf2(uint.Parse(info["max_entries"])) * 16;
        return long.Parse(info["memlock"]);
    }
}
