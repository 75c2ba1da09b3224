// SPDX-License-Identifier: MIT
namespace Toa.Cli.Doctor;

/// <summary>
/// One step of <c>toa doctor</c>'s walk through the FAQ. Checks run in order and may
/// leave what they learnt in the <see cref="DoctorContext"/> for later ones.
/// </summary>
internal interface IDoctorCheck
{
    /// <summary>The short name findings carry.</summary>
    string Name { get; }

    /// <summary>Whether this check has anything to do for the given command line.</summary>
    bool AppliesTo(DoctorContext context);

    /// <summary>Whether it reads pins or probes the kernel, which only root may.</summary>
    bool NeedsRoot { get; }

    /// <summary>Runs the check.</summary>
    Task<IReadOnlyList<Finding>> RunAsync(DoctorContext context, CancellationToken cancel);
}
