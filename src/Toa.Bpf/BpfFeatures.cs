// SPDX-License-Identifier: MIT
using System.Collections.Concurrent;
using Toa.Bpf.Native;

namespace Toa.Bpf;

/// <summary>
/// Kernel features probed rather than guessed from version numbers: each probe
/// loads a tiny program once and caches the answer.
/// </summary>
public static unsafe class BpfFeatures
{
    private static readonly ConcurrentDictionary<(uint, uint), bool> s_helpers = new();

    /// <summary>BPF_PROG_TYPE_CGROUP_SOCKOPT.</summary>
    public const uint ProgramTypeCgroupSockopt = 25;

    /// <summary>bpf_set_retval (5.18): cgroup programs may choose the errno a syscall returns.</summary>
    public const uint HelperSetRetval = 187;

    /// <summary>Whether programs of <paramref name="programType"/> may call helper <paramref name="helperId"/>.</summary>
    public static bool HasHelper(uint programType, uint helperId) =>
        s_helpers.GetOrAdd((programType, helperId), k => LibBpf.ProbeBpfHelper(k.Item1, k.Item2, null) == 1);

    /// <summary>
    /// Whether a cgroup getsockopt program can make the call fail with an errno of
    /// its choice (writing ctx->retval; 5.18, the release that added bpf_set_retval).
    /// </summary>
    public static bool SockoptRetvalWritable => HasHelper(ProgramTypeCgroupSockopt, HelperSetRetval);
}
