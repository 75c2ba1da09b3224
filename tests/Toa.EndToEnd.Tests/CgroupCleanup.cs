// SPDX-License-Identifier: MIT
using Toa.Bpf;

namespace Toa.EndToEnd.Tests;

/// <summary>Removing a lab's cgroup after its processes were killed.</summary>
internal static class CgroupCleanup
{
    /// <summary>Removes <paramref name="cgroup"/>, waiting up to about two seconds for it to empty.</summary>
    public static void RemoveWhenEmpty(Cgroup? cgroup)
    {
        for (var attempt = 0; cgroup is not null; attempt++)
        {
            try
            {
                cgroup.Remove();
                return;
            }
            catch (IOException) when (attempt < 100)
            {
                Thread.Sleep(20); // killed processes leave the cgroup shortly after
            }
        }
    }
}
