// SPDX-License-Identifier: MIT
using Toa.Bpf.Features;
using Toa.Testing;

namespace Toa.Kernels.Tests.Features;

/// <summary>The feature probes against the running kernel, and the probe sets that pretend.</summary>
public sealed class KernelFeatureTests(ITestOutputHelper output)
{
    public static TheoryData<string> Features => [.. KernelFeatures.All.Select(f => f.Id)];

    [Theory]
    [MemberData(nameof(Features))]
    public void Check_KernelSinceTheFeaturesRelease_HasIt(string id)
    {
        KernelTest.Require();
        var feature = KernelFeatures.Find(id)!;
        var release = Environment.OSVersion.Version;

        var support = FeatureProbes.Kernel.Check(feature);

        output.WriteLine($"Linux {release}: {feature}: {(support.Supported ? "yes" : $"no: {support.Reason}")}");
        if (release >= feature.Since)
            Assert.True(support.Supported, $"Linux {release} should have {feature}: {support.Reason}");
    }

    [Fact]
    public void Helper_NotAllowedInTheProgramType_ReportsMissingInTheVerifiersWords()
    {
        KernelTest.Require();

        var outcome = KernelProbe.Helper(BpfProgramType.CgroupSockopt, BpfAttachType.CgroupGetsockopt, BpfHelper.ReserveHdrOpt);

        Assert.False(outcome.Supported);
        Assert.Contains("(verifier: ", outcome.Reason);
        Assert.Contains("bpf_reserve_hdr_opt#144", outcome.Reason);
    }

    [Fact]
    public void Helper_IdNoKernelKnows_ReportsMissing()
    {
        KernelTest.Require();

        var outcome = KernelProbe.Helper(BpfProgramType.SockOps, BpfAttachType.CgroupSockOps, (BpfHelper)100_000);

        Assert.False(outcome.Supported);
        Assert.Contains("invalid func", outcome.Reason);
    }

    [Fact]
    public void ProgramType_AttachTypeNoKernelKnows_ReportsMissing()
    {
        KernelTest.Require();

        var outcome = KernelProbe.ProgramType(BpfProgramType.CgroupSockAddr, (BpfAttachType)10_000);

        Assert.False(outcome.Supported);
        Assert.Contains("does not load CgroupSockAddr programs", outcome.Reason);
    }

    [Fact]
    public void Require_FeatureReportedMissing_ThrowsTheSentinelNamingItAndItsRelease()
    {
        var probes = FeatureProbes.Kernel.Without(KernelFeatures.SockOpsHeaderOptions);

        var e = Assert.Throws<MissingKernelFeatureException>(() => probes.Require([KernelFeatures.SockOpsHeaderOptions]));

        Assert.Same(KernelFeatures.SockOpsHeaderOptions, e.Feature);
        Assert.Equal("this kernel lacks TCP header options in sock_ops programs (Linux 5.10 and later): reported missing on purpose", e.Message);
    }

    [Fact]
    public void Use_ProbeSet_IsCurrentUntilDisposed()
    {
        var pretending = FeatureProbes.Kernel.Without(KernelFeatures.Btf);

        using (pretending.Use())
            Assert.Same(pretending, FeatureProbes.Current);

        Assert.Same(FeatureProbes.Kernel, FeatureProbes.Current);
    }

    [Fact]
    public void All_OldestFirst_SoTheFirstMissingIsTheMostBasic()
    {
        Assert.Equal(KernelFeatures.All.OrderBy(f => f.Since), KernelFeatures.All);
        Assert.Equal(KernelFeatures.All.Count, KernelFeatures.All.Select(f => f.Id).Distinct().Count());
    }
}
