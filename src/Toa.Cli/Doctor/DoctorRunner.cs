// SPDX-License-Identifier: MIT
using Toa.Cli.Doctor.Checks;

namespace Toa.Cli.Doctor;

/// <summary>Runs the checks in the FAQ's order and gathers their findings.</summary>
internal static class DoctorRunner
{
    /// <summary>Every check, in order: kernel, receiver, listener, trust, traffic.</summary>
    public static IReadOnlyList<IDoctorCheck> Checks { get; } =
    [
        new KernelSupportCheck(KernelFeatureProbes.Default),
        new ReceiverCheck(),
        new ListenerCheck(),
        new TrustCheck(),
        new TrafficCheck(),
    ];

    /// <summary>The findings of every check that applies; those needing root are skipped without it.</summary>
    public static async Task<IReadOnlyList<Finding>> RunAsync(DoctorContext context, IEnumerable<IDoctorCheck> checks, CancellationToken cancel)
    {
        var findings = new List<Finding>();
        foreach (var check in checks.Where(c => c.AppliesTo(context) && (context.IsRoot || !c.NeedsRoot)))
            findings.AddRange(await check.RunAsync(context, cancel));
        return findings;
    }

    /// <summary>0 when nothing is wrong, 1 when a problem was found.</summary>
    public static int ExitCode(IReadOnlyList<Finding> findings) =>
        findings.Any(f => f.Severity == Severity.Problem) ? 1 : 0;
}
