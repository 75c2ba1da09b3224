// SPDX-License-Identifier: MIT
using Toa.Cli.CommandLine;

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
}
