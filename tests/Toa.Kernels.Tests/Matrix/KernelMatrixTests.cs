// SPDX-License-Identifier: MIT
using Toa.Kernels.Tests.Verifier;

namespace Toa.Kernels.Tests.Matrix;

/// <summary>
/// Debian's kernels booted under qemu (tests/kernels/run), each running the end-to-end
/// tests (all of them, as on the host), the feature tests, and a program every verifier
/// rejects. One test per kernel; a failure shows the failed tests in the guest's words.
/// </summary>
public sealed class KernelMatrixTests(ITestOutputHelper output)
{
    public static TheoryData<string> Kernels => [.. MatrixRun.Kernels];

    [Theory]
    [MemberData(nameof(Kernels))]
    public async Task Kernel_EveryCase_Passes(string kernel)
    {
        var result = (await MatrixRun.GetAsync()).Kernel(kernel);

        output.WriteLine($"kernel {kernel} ({result.Release}): {result.Verdict}");
        var ran = result.Tests.Where(t => t.Name != RejectedProgramTests.CanaryName).ToList();
        if (!result.Verdict.StartsWith("pass", StringComparison.Ordinal) || ran.Count == 0 || ran.Any(t => t.Result != "Pass"))
            Assert.Fail(result.FailureReport(t => t.Name != RejectedProgramTests.CanaryName));
        output.WriteLine($"{ran.Count} tests passed");
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public async Task Kernel_RejectedProgram_FailureShowsTheVerifiersLines(string kernel)
    {
        var result = (await MatrixRun.GetAsync()).Kernel(kernel);

        var canary = result.Tests.SingleOrDefault(t => t.Name == RejectedProgramTests.CanaryName);
        if (canary is null)
            Assert.Fail(result.FailureReport(t => t.Name == RejectedProgramTests.CanaryName));
        output.WriteLine($"kernel {kernel} ({result.Release}), as the guest reported it:");
        output.WriteLine(canary.Message);
        Assert.Equal("Fail", canary.Result);
        Assert.Contains("the verifier rejected it", canary.Message);
        Assert.Contains(RejectedProgramTests.VerifierLine, canary.Message);
    }
}
