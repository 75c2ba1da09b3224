// SPDX-License-Identifier: MIT
using Xunit;

namespace Toa.Testing;

/// <summary>
/// Gate for tests that need the real kernel (root, BPF, cgroup v2). Where the
/// machine cannot run them they skip with the reason, unless
/// TOA_REQUIRE_KERNEL_TESTS=1 (CI), where a test that cannot run fails.
/// </summary>
public static class KernelTest
{
    private static readonly Lazy<string?> s_missing = new(FindMissing);

    /// <summary>Why kernel tests cannot run here, or null when they can (for fixtures, which cannot skip).</summary>
    public static string? Missing => s_missing.Value;

    /// <summary>Whether CI demands that kernel tests run.</summary>
    public static bool Required => Environment.GetEnvironmentVariable("TOA_REQUIRE_KERNEL_TESTS") == "1";

    /// <summary>Skips (or, when required, fails) unless the kernel can run this test.</summary>
    public static void Require(string needs = "root, BPF and cgroup v2")
    {
        if (s_missing.Value is not { } missing)
            return;
        var reason = $"needs {needs}: {missing}";
        if (Required)
            Assert.Fail($"TOA_REQUIRE_KERNEL_TESTS=1 but this test cannot run: {reason}");
        Assert.Skip(reason);
    }

    private static string? FindMissing()
    {
        if (!Environment.IsPrivilegedProcess)
            return "not running as root";
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            return "the kernel has no BTF (/sys/kernel/btf/vmlinux)";
        if (!File.ReadAllText("/proc/self/mountinfo").Contains(" - cgroup2 ", StringComparison.Ordinal))
            return "no cgroup v2 hierarchy is mounted";
        return null;
    }
}
