// SPDX-License-Identifier: MIT
using Xunit;

namespace Toa.Testing;

/// <summary>Gate for tests whose oracle is a tool of another project (promtool, systemd-analyze).</summary>
public static class ToolTest
{
    /// <summary>
    /// Returns <paramref name="path"/> when the tool is installed; else skips, or fails where CI
    /// demands every test (TOA_REQUIRE_KERNEL_TESTS=1).
    /// </summary>
    public static string Require(string path, string package)
    {
        if (File.Exists(path))
            return path;
        var reason = $"needs {path} (apt-get install {package}; scripts/prerequisites.sh installs it)";
        if (KernelTest.Required)
            Assert.Fail(reason);
        Assert.Skip(reason);
        return path;
    }
}
