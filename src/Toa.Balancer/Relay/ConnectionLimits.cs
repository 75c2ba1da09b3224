// SPDX-License-Identifier: MIT
namespace Toa.Balancer.Relay;

/// <summary>The overall connection limit a configuration that names none gets: what the descriptor limit allows.</summary>
internal static class ConnectionLimits
{
    /// <summary>Descriptors kept for what comes after start (health checks, pipes, admin connections, reloads): at least this many.</summary>
    private const long MinSpare = 64;

    /// <summary>
    /// Half of what is left of <paramref name="descriptors"/> after those <paramref name="inUse"/>
    /// (the runtime's own, the listeners, the event loops) and an eighth (at least
    /// <see cref="MinSpare"/>) kept spare, since each relayed connection holds two: the client's
    /// socket and the backend's. Never 0, which would mean no limit.
    /// </summary>
    public static int DefaultMaxConnections(long descriptors, long inUse)
    {
        var spare = Math.Max(MinSpare, descriptors / 8);
        return (int)Math.Clamp((descriptors - inUse - spare) / 2, 1, int.MaxValue);
    }

    /// <summary>Descriptors this process holds now (the entries of /proc/self/fd).</summary>
    public static long DescriptorsInUse() => Directory.EnumerateFileSystemEntries("/proc/self/fd").LongCount();

    /// <summary>This process's soft RLIMIT_NOFILE (the runtime raises it to the hard limit at start).</summary>
    public static unsafe long DescriptorLimit()
    {
        var limits = stackalloc ulong[2];
        if (Libc.GetResourceLimit(Libc.RlimitNoFile, limits) != 0)
            throw new IOException($"getrlimit(RLIMIT_NOFILE) failed: errno {Libc.Errno}");
        return (long)Math.Min(limits[0], long.MaxValue);
    }
}
