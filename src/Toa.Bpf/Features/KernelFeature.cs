// SPDX-License-Identifier: MIT
namespace Toa.Bpf.Features;

/// <summary>
/// Something toa needs from the kernel, with the Linux release that introduced it. Whether a
/// kernel has it is found by a probe (<see cref="FeatureProbes"/>), never from the version
/// string: distributions backport features, and some kernels turn them off.
/// </summary>
public sealed class KernelFeature
{
    internal KernelFeature(string id, string description, string since, Func<ProbeOutcome> probe, string? fallback = null)
    {
        Id = id;
        Description = description;
        Since = Version.Parse(since);
        Probe = probe;
        Fallback = fallback;
    }

    /// <summary>A short stable name, e.g. <c>sock-ops-header-options</c>.</summary>
    public string Id { get; }

    /// <summary>What the feature is, in words, e.g. "TCP header options from sock_ops programs".</summary>
    public string Description { get; }

    /// <summary>The mainline Linux release that introduced it.</summary>
    public Version Since { get; }

    /// <summary>What toa does instead on a kernel without it; null when nothing can replace it.</summary>
    public string? Fallback { get; }

    internal Func<ProbeOutcome> Probe { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Description} (Linux {Since})";
}

/// <summary>What a probe set says about one feature.</summary>
/// <param name="Feature">The feature.</param>
/// <param name="Supported">Whether the kernel has it.</param>
/// <param name="Reason">Why not, when it does not: the kernel's own answer.</param>
public sealed record FeatureSupport(KernelFeature Feature, bool Supported, string? Reason);

/// <summary>
/// The one error every missing feature raises; callers catch this type. The message is one
/// line naming the feature and the release that introduced it.
/// </summary>
public sealed class MissingKernelFeatureException : BpfException
{
    /// <summary>Creates the error for <paramref name="support"/>, a feature found missing.</summary>
    public MissingKernelFeatureException(FeatureSupport support)
        : base(LinuxErrno.EOPNOTSUPP, $"this kernel lacks {support.Feature.Description} (Linux {support.Feature.Since} and later)"
               + (support.Reason is null ? "" : $": {support.Reason}"))
    {
        Feature = support.Feature;
    }

    /// <summary>The missing feature.</summary>
    public KernelFeature Feature { get; }
}
