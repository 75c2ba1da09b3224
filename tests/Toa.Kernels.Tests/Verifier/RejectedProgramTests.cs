// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Testing;

namespace Toa.Kernels.Tests.Verifier;

/// <summary>
/// A program every verifier rejects (Verifier/rejected.bpf.c): the rejection must carry the
/// verifier's own lines, here and, through the kernel matrix (tests/kernels/run), from inside
/// every guest.
/// </summary>
public sealed class RejectedProgramTests(ITestOutputHelper output)
{
    /// <summary>What every verifier says about the program, in some version of its wording.</summary>
    private const string VerifierLine = "invalid mem access";

    [Fact]
    public void Load_RejectedProgram_ThrowsWithTheVerifiersLog()
    {
        KernelTest.Require();
        using var obj = Open();

        var e = Assert.Throws<VerifierException>(obj.Load);

        output.WriteLine(e.Message);
        Assert.Equal("toa_rejected", e.Program);
        Assert.Equal(LinuxErrno.EACCES, e.Errno);
        Assert.Contains(VerifierLine, e.Log);
        Assert.Contains(VerifierLine, e.Message);
    }

    // Meant to fail: the kernel matrix checks that its failure, as a guest's test runner
    // reports it, shows the verifier's lines ("invalid mem access"). Run only on request
    // (xunit's -explicit).
    [Fact(Explicit = true)]
    public void Load_RejectedProgram_FailsShowingTheVerifiersLines()
    {
        KernelTest.Require();
        using var obj = Open();
        obj.Load();
    }

    private static BpfObject Open() => BpfObject.OpenEmbedded(typeof(RejectedProgramTests).Assembly, "rejected.bpf.o");
}
