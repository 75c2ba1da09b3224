// SPDX-License-Identifier: MIT
using Toa.Bpf;

namespace Toa.Cli.Doctor.Checks;

/// <summary>
/// The FAQ's "the module must match the kernel", for eBPF: root, cgroup v2, BTF, the bpf
/// filesystem and the program types and helpers the receiver needs.
/// </summary>
internal sealed class KernelSupportCheck(IKernelFeatureProbe probe) : IDoctorCheck
{
    private const string BtfFile = "/sys/kernel/btf/vmlinux";

    public string Name => "kernel";

    public bool NeedsRoot => false;

    public bool AppliesTo(DoctorContext context) => true;

    public Task<IReadOnlyList<Finding>> RunAsync(DoctorContext context, CancellationToken cancel)
    {
        var findings = new List<Finding>();
        var release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        findings.Add(Ok($"Linux {release}"));
        if (!context.IsRoot)
            findings.Add(new(Name, Severity.Problem,
                "not running as root: reading the receiver's pins and probing the kernel's BPF support need root, so those checks were skipped",
                $"run it as root: sudo {context.CommandLine}"));
        findings.Add(Cgroup.FindRoot() is { } cgroupRoot
            ? Ok($"cgroup v2 is mounted at {cgroupRoot}")
            : new(Name, Severity.Problem, "no cgroup v2 hierarchy is mounted: the receiver attaches to a cgroup v2 directory",
                "mount -t cgroup2 none /sys/fs/cgroup"));
        findings.Add(File.Exists(BtfFile)
            ? Ok("the kernel has BTF (the receiver's socket storage needs it)")
            : new(Name, Severity.Problem, $"the kernel has no BTF ({BtfFile}): the receiver's socket storage cannot be created",
                "boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (every current distribution kernel is)"));
        if (context.PinDirectory.StartsWith(BpfFs.DefaultMount + "/", StringComparison.Ordinal) && !BpfFs.IsMounted())
            findings.Add(new(Name, Severity.Warning, $"no bpf filesystem at {BpfFs.DefaultMount}, so nothing can be pinned there yet",
                "toa load mounts it; by hand: mount -t bpf bpf /sys/fs/bpf"));
        if (context.IsRoot)
            foreach (var feature in probe.Probe())
                findings.Add(feature.Supported ? Ok(feature.Name)
                    : new(Name, feature.Required ? Severity.Problem : Severity.Warning,
                        $"this kernel lacks {feature.Name}: {feature.WithoutIt}",
                        feature.Required ? "run Linux 5.10 or newer (docs/receiver.md, Minimum kernel)" : null));
        return Task.FromResult<IReadOnlyList<Finding>>(findings);
    }

    private Finding Ok(string message) => new(Name, Severity.Ok, message);
}
