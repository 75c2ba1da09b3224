// SPDX-License-Identifier: MIT
using Toa.Bpf;

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
    /// <summary>The probe doctor uses.</summary>
    public static IKernelFeatureProbe Default { get; } = new HelperProbe();

    // Whether a program type may call a helper also says whether the type exists at all.
    private sealed class HelperProbe : IKernelFeatureProbe
    {
        private const uint SockOps = 13, CgroupSockAddr = 18, CgroupSockopt = BpfFeatures.ProgramTypeCgroupSockopt;
        private const uint SkStorageGet = 107, LoadHeaderOption = 142;

        public IReadOnlyList<KernelFeature> Probe() =>
        [
            new("sock_ops programs reading TCP header options (bpf_load_hdr_opt, Linux 5.10)", true,
                BpfFeatures.HasHelper(SockOps, LoadHeaderOption), "the receiver cannot read TOA: toa load fails"),
            new("socket storage in sock_ops programs", true,
                BpfFeatures.HasHelper(SockOps, SkStorageGet), "the receiver cannot keep a connection's client: toa load fails"),
            new("getpeername hooks reading socket storage (cgroup sock_addr)", true,
                BpfFeatures.HasHelper(CgroupSockAddr, SkStorageGet), "accept() and getpeername() cannot be rewritten: toa load fails"),
            new("getsockopt hook reading socket storage (cgroup sockopt)", true,
                BpfFeatures.HasHelper(CgroupSockopt, SkStorageGet), "getsockopt 4096 cannot answer: toa load fails"),
            new("getsockopt errno of the program's choice (bpf_set_retval, Linux 5.18)", false,
                BpfFeatures.SockoptRetvalWritable, "getsockopt 4096 without a NAT64 client fails with ENOPROTOOPT instead of toa.ko's EINVAL"),
        ];
    }
}
