// SPDX-License-Identifier: MIT
namespace Toa.Bpf.Features;

/// <summary>
/// The kernel features toa's programs use, each with its probe. Order matters: older
/// features come first, so a check of several names the most basic one that is missing.
/// </summary>
public static class KernelFeatures
{
    /// <summary>BTF: type information the kernel needs to create socket storage maps.</summary>
    public static KernelFeature Btf { get; } = new("btf", "BTF type information", "4.18", KernelProbe.Btf);

    /// <summary>BPF_MAP_TYPE_SK_STORAGE: per-socket state freed with the socket.</summary>
    public static KernelFeature SkStorage { get; } = new("sk-storage", "socket storage maps", "5.2", KernelProbe.SkStorageMap);

    /// <summary>bpf_sk_storage_get from sock_ops programs (and their ctx->sk).</summary>
    public static KernelFeature SkStorageFromSockOps { get; } = new("sk-storage-sock-ops",
        "bpf_sk_storage_get in sock_ops programs", "5.3",
        () => KernelProbe.Helper(BpfProgramType.SockOps, BpfAttachType.CgroupSockOps, BpfHelper.SkStorageGet));

    /// <summary>cgroup getsockopt programs (BPF_PROG_TYPE_CGROUP_SOCKOPT).</summary>
    public static KernelFeature CgroupGetsockopt { get; } = new("cgroup-getsockopt",
        "cgroup getsockopt programs", "5.3",
        () => KernelProbe.ProgramType(BpfProgramType.CgroupSockopt, BpfAttachType.CgroupGetsockopt));

    /// <summary>bpf_sk_storage_get from cgroup getsockopt programs.</summary>
    public static KernelFeature SkStorageFromGetsockopt { get; } = new("sk-storage-getsockopt",
        "bpf_sk_storage_get in cgroup getsockopt programs", "5.3",
        () => KernelProbe.Helper(BpfProgramType.CgroupSockopt, BpfAttachType.CgroupGetsockopt, BpfHelper.SkStorageGet));

    /// <summary>cgroup setsockopt programs: the sender takes options from TCP_NODELAY calls.</summary>
    public static KernelFeature CgroupSetsockopt { get; } = new("cgroup-setsockopt",
        "cgroup setsockopt programs", "5.3",
        () => KernelProbe.ProgramType(BpfProgramType.CgroupSockopt, BpfAttachType.CgroupSetsockopt));

    /// <summary>bpf_sk_storage_get from cgroup setsockopt programs.</summary>
    public static KernelFeature SkStorageFromSetsockopt { get; } = new("sk-storage-setsockopt",
        "bpf_sk_storage_get in cgroup setsockopt programs", "5.3",
        () => KernelProbe.Helper(BpfProgramType.CgroupSockopt, BpfAttachType.CgroupSetsockopt, BpfHelper.SkStorageGet));

    /// <summary>bpf_link attachments to cgroups (BPF_LINK_CREATE), which pins keep alive.</summary>
    public static KernelFeature CgroupLink { get; } = new("cgroup-link", "bpf_link attachments to cgroups", "5.7",
        KernelProbe.CgroupLink);

    /// <summary>cgroup/getpeername4 and getpeername6 programs.</summary>
    public static KernelFeature CgroupGetpeername { get; } = new("cgroup-getpeername",
        "cgroup getpeername programs", "5.8", () => Both(
            KernelProbe.ProgramType(BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet4Getpeername),
            () => KernelProbe.ProgramType(BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet6Getpeername)));

    /// <summary>bpf_sk_storage_get from cgroup getpeername programs.</summary>
    public static KernelFeature SkStorageFromGetpeername { get; } = new("sk-storage-getpeername",
        "bpf_sk_storage_get in cgroup getpeername programs", "5.8",
        () => KernelProbe.Helper(BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet4Getpeername, BpfHelper.SkStorageGet));

    /// <summary>
    /// TCP header options from sock_ops programs: the header-option callbacks and the
    /// bpf_load_hdr_opt, bpf_reserve_hdr_opt and bpf_store_hdr_opt helpers.
    /// </summary>
    public static KernelFeature SockOpsHeaderOptions { get; } = new("sock-ops-header-options",
        "TCP header options in sock_ops programs", "5.10", () => Both(
            KernelProbe.Helper(BpfProgramType.SockOps, BpfAttachType.CgroupSockOps, BpfHelper.ReserveHdrOpt),
            () => Both(KernelProbe.Helper(BpfProgramType.SockOps, BpfAttachType.CgroupSockOps, BpfHelper.StoreHdrOpt),
                () => KernelProbe.Helper(BpfProgramType.SockOps, BpfAttachType.CgroupSockOps, BpfHelper.LoadHdrOpt))));

    /// <summary>
    /// A socket's network namespace from sock_ops programs: bpf_skc_to_tcp_sock gives the
    /// kernel's socket, whose namespace the program reads at offsets the kernel's own BTF gives.
    /// The receiver honours a TOA only in the namespaces it was told (toa load --netns).
    /// </summary>
    public static KernelFeature SockOpsNetns { get; } = new("sock-ops-netns",
        "the socket's network namespace in sock_ops programs (bpf_skc_to_tcp_sock, kernel BTF)", "5.10", () => Both(
            KernelProbe.KernelBtf(),
            () => KernelProbe.Helper(BpfProgramType.SockOps, BpfAttachType.CgroupSockOps, BpfHelper.SkcToTcpSock)));

    /// <summary>
    /// bpf_get_netns_cookie in sock_ops, getpeername and getsockopt programs: the receiver keys a
    /// connection's record by its namespace and 4-tuple in a hash map (128 bytes a connection).
    /// Without it the records stay in socket storage, about 370 bytes a connection.
    /// </summary>
    public static KernelFeature NetnsCookie { get; } = new("netns-cookie",
        "bpf_get_netns_cookie in sock_ops, getpeername and getsockopt programs", "5.15", () => Both(
            KernelProbe.Helper(BpfProgramType.SockOps, BpfAttachType.CgroupSockOps, BpfHelper.GetNetnsCookie),
            () => Both(KernelProbe.Helper(BpfProgramType.CgroupSockopt, BpfAttachType.CgroupGetsockopt, BpfHelper.GetNetnsCookie),
                () => KernelProbe.Helper(BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet4Getpeername, BpfHelper.GetNetnsCookie))),
        fallback: "connections' records stay in socket storage (about 370 bytes each, not 128)");

    /// <summary>
    /// A cgroup getsockopt program choosing the call's errno (ctx->retval), probed through
    /// bpf_set_retval, which arrived with it. Without it getsockopt 4096 on a connection
    /// without a NAT64 client fails with the kernel's ENOPROTOOPT instead of EINVAL.
    /// </summary>
    public static KernelFeature SockoptRetval { get; } = new("sockopt-retval",
        "an errno of the program's choice from cgroup getsockopt programs", "5.18",
        () => KernelProbe.Helper(BpfProgramType.CgroupSockopt, BpfAttachType.CgroupGetsockopt, BpfHelper.SetRetval),
        fallback: "getsockopt 4096 without a NAT64 client fails with ENOPROTOOPT, not EINVAL");

    /// <summary>Every feature, oldest first.</summary>
    public static IReadOnlyList<KernelFeature> All { get; } =
    [
        Btf, SkStorage, SkStorageFromSockOps, CgroupGetsockopt, SkStorageFromGetsockopt, CgroupSetsockopt,
        SkStorageFromSetsockopt, CgroupLink, CgroupGetpeername, SkStorageFromGetpeername, SockOpsHeaderOptions, SockOpsNetns,
        NetnsCookie, SockoptRetval,
    ];

    /// <summary>What sending TOA (toa connect, toa lb) needs.</summary>
    public static IReadOnlyList<KernelFeature> Sender { get; } =
        [Btf, SkStorage, SkStorageFromSockOps, CgroupSetsockopt, SkStorageFromSetsockopt, CgroupLink, SockOpsHeaderOptions];

    /// <summary>What the receiver (toa load) cannot do without: every feature but the sender's own and those with a fallback.</summary>
    public static IReadOnlyList<KernelFeature> Receiver { get; } =
        [.. All.Where(f => f.Fallback is null && f != CgroupSetsockopt && f != SkStorageFromSetsockopt)];

    /// <summary>Looks a feature up by <see cref="KernelFeature.Id"/>.</summary>
    public static KernelFeature? Find(string id) => All.FirstOrDefault(f => f.Id == id);

    private static ProbeOutcome Both(ProbeOutcome first, Func<ProbeOutcome> second) =>
        first.Supported ? second() : first;
}
