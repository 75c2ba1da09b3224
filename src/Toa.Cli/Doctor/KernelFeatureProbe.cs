// SPDX-License-Identifier: MIT
namespace Toa.Cli.Doctor;

/// <summary>One kernel capability the receiver uses, and whether this kernel has it.</summary>
/// <param name="Name">What it is, in words.</param>
/// <param name="Required">Whether the receiver cannot work without it (else it works with less).</param>
/// <param name="Supported">Whether this kernel has it.</param>
/// <param name="WithoutIt">What happens on a kernel without it.</param>
internal sealed record KernelFeature(string Name, bool Required, bool Supported, string WithoutIt);

/// <summary>Answers which of the receiver's kernel capabilities this kernel has.</summary>
internal interface IKernelFeatureProbe
{
    /// <summary>Probes every capability (needs root).</summary>
    IReadOnlyList<KernelFeature> Probe();
}

/// <summary>
/// The one place <c>toa doctor</c> asks the kernel what it supports: swapping
/// <see cref="Default"/> changes how every check probes.
/// </summary>
internal static class KernelFeatureProbes
{
    /// <summary>The probe doctor uses: the same named probes toa load requires.</summary>
    public static IKernelFeatureProbe Default { get; } = new NamedProbes();

    private sealed class NamedProbes : IKernelFeatureProbe
    {
        public IReadOnlyList<KernelFeature> Probe() =>
        [
            .. Bpf.Features.KernelFeatures.All.Select(feature =>
            {
                var support = Bpf.Features.FeatureProbes.Current.Check(feature);
                return new KernelFeature(feature.ToString(), feature.Fallback is null, support.Supported,
                    feature.Fallback ?? "toa load refuses on this kernel" + (support.Reason is null ? "" : $" ({support.Reason})"));
            }),
        ];
    }
}
