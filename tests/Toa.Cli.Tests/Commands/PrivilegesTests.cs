// SPDX-License-Identifier: MIT
using System.Diagnostics;
using Toa.Cli.CommandLine;
using Toa.Testing;

namespace Toa.Cli.Tests.Commands;

public class PrivilegesTests
{
    [Theory]
    [InlineData("000001ffffffffff", true)]  // root's full set
    [InlineData("0000008000001000", true)]  // CAP_BPF and CAP_NET_ADMIN, as a unit grants them
    [InlineData("0000000000201000", true)]  // CAP_SYS_ADMIN and CAP_NET_ADMIN (kernels before CAP_BPF)
    [InlineData("0000008000000000", false)] // CAP_BPF alone cannot attach to cgroups
    [InlineData("0000000000001000", false)] // CAP_NET_ADMIN alone cannot load
    [InlineData("0000000000000000", false)]
    [InlineData(null, false)]
    public void AllowsBpf_EffectiveSet_TheCapabilitiesThatReplaceRoot(string? capEff, bool allowed) =>
        Assert.Equal(allowed, Privileges.AllowsBpf(capEff));

    [Fact]
    public async Task RequireRoot_WithoutAPasswdFile_RootIsStillRoot()
    {
        KernelTest.Require("root, for a mount namespace");
        // A minimal root (a container, an initramfs) may have no /etc/passwd: the check must not need a name.
        var toa = ToaCli.Command("load", "--cgroup", "/sys/fs/cgroup/toa-no-such-cgroup", "--pin-dir", "/run/toa-no-such-pins");
        var start = new ProcessStartInfo("unshare", ["--mount", "sh", "-c", "mount -t tmpfs none /etc && exec \"$@\"", "sh", .. toa])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Contains("toa-no-such-cgroup", error, StringComparison.Ordinal);
    }
}
