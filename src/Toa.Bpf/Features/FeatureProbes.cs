// SPDX-License-Identifier: MIT
namespace Toa.Bpf.Features;

/// <summary>
/// Answers whether the kernel has a feature. <see cref="Kernel"/> probes the running
/// kernel once per feature and process (probing needs root, like loading). A set made by
/// <see cref="Without"/> reports chosen features missing, so the refusal paths can be
/// exercised on a kernel that has everything; <see cref="Use"/> makes such a set the
/// <see cref="Current"/> one for the calling flow.
/// </summary>
public class FeatureProbes
{
    private static readonly AsyncLocal<FeatureProbes?> s_current = new();
    private readonly Dictionary<KernelFeature, Lazy<FeatureSupport>> _results = [];

    private protected FeatureProbes()
    {
    }

    /// <summary>The running kernel, probed.</summary>
    public static FeatureProbes Kernel { get; } = new();

    /// <summary>The set loaders consult: <see cref="Kernel"/> unless <see cref="Use"/> chose another.</summary>
    public static FeatureProbes Current => s_current.Value ?? Kernel;

    /// <summary>Whether the kernel has <paramref name="feature"/>, and if not, why.</summary>
    public virtual FeatureSupport Check(KernelFeature feature)
    {
        Lazy<FeatureSupport> result;
        lock (_results)
        {
            if (!_results.TryGetValue(feature, out result!))
                _results[feature] = result = new(() =>
                {
                    var outcome = feature.Probe();
                    return new FeatureSupport(feature, outcome.Supported, outcome.Reason);
                });
        }
        return result.Value;
    }

    /// <summary>Throws <see cref="MissingKernelFeatureException"/> for the first of <paramref name="features"/> the kernel lacks.</summary>
    public void Require(IEnumerable<KernelFeature> features)
    {
        foreach (var feature in features)
        {
            var support = Check(feature);
            if (!support.Supported)
                throw new MissingKernelFeatureException(support);
        }
    }

    /// <summary>A set that reports <paramref name="missing"/> absent and asks this one about the rest.</summary>
    public FeatureProbes Without(params KernelFeature[] missing) => new Pretending(this, missing);

    /// <summary>Makes this set <see cref="Current"/> for the calling flow until disposed.</summary>
    public IDisposable Use()
    {
        var previous = s_current.Value;
        s_current.Value = this;
        return new Restore(previous);
    }

    private sealed class Pretending(FeatureProbes inner, KernelFeature[] missing) : FeatureProbes
    {
        public override FeatureSupport Check(KernelFeature feature) =>
            missing.Contains(feature) ? new FeatureSupport(feature, false, "reported missing on purpose") : inner.Check(feature);
    }

    private sealed class Restore(FeatureProbes? previous) : IDisposable
    {
        public void Dispose() => s_current.Value = previous;
    }
}
