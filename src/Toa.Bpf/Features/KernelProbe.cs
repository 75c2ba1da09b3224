// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Toa.Bpf.Native;

namespace Toa.Bpf.Features;

/// <summary>What a probe found: the feature is there, or it is not and why.</summary>
internal readonly record struct ProbeOutcome(bool Supported, string? Reason)
{
    public static ProbeOutcome Yes => new(true, null);
    public static ProbeOutcome No(string reason) => new(false, reason);
}

/// <summary>
/// Asks the kernel directly: loads a program of two or three instructions, creates a map,
/// loads BTF, or makes a bpf(2) call with arguments that only a kernel with the feature
/// gets far enough to reject in a telling way. A failure that says nothing about the
/// feature (EPERM, say) is thrown as a <see cref="BpfException"/>, never taken for "missing".
/// </summary>
internal static unsafe class KernelProbe
{
    private const string License = "Dual MIT/GPL";
    private const int LogSize = 64 * 1024;
    private const int EBADF = 9;

    /// <summary>Whether the kernel loads a program of <paramref name="type"/> meant for <paramref name="attach"/>.</summary>
    public static ProbeOutcome ProgramType(BpfProgramType type, BpfAttachType attach)
    {
        ulong[] program = [Insn.Mov64Imm(0, 1), Insn.Exit()];
        var (fd, errno, _) = Load(type, attach, program);
        if (fd >= 0)
            return Close(fd, ProbeOutcome.Yes);
        return errno is LinuxErrno.EINVAL or LinuxErrno.EOPNOTSUPP
            ? ProbeOutcome.No($"the kernel does not load {type} programs for {attach} ({BpfException.Describe(errno)})")
            : throw new BpfException($"probe {type}/{attach}: load", errno);
    }

    // How verifiers word "this program may not call that helper": before 6.2 (or so) "unknown
    // func", later "program of this type cannot use helper"; "invalid func" for an id beyond any.
    private static readonly string[] HelperRefusals = ["unknown func", "cannot use helper", "invalid func"];

    /// <summary>
    /// Whether programs of <paramref name="type"/> for <paramref name="attach"/> may call
    /// <paramref name="helper"/>. The program calls it with its arguments unset: a kernel that
    /// allows the helper rejects the arguments, one that does not refuses the call itself.
    /// </summary>
    public static ProbeOutcome Helper(BpfProgramType type, BpfAttachType attach, BpfHelper helper)
    {
        var hook = ProgramType(type, attach);
        if (!hook.Supported)
            return hook;
        ulong[] program = [Insn.Call((int)helper), Insn.Mov64Imm(0, 1), Insn.Exit()];
        var (fd, errno, log) = Load(type, attach, program);
        if (fd >= 0)
            return Close(fd, ProbeOutcome.Yes);
        var refusal = log.Split('\n').FirstOrDefault(l => HelperRefusals.Any(r => l.Contains(r, StringComparison.Ordinal)));
        if (refusal is not null)
            return ProbeOutcome.No($"{type} programs for {attach} may not call {helper} (verifier: {refusal.Trim()})");
        if (errno == LinuxErrno.EACCES || errno == LinuxErrno.EINVAL)
            return ProbeOutcome.Yes;
        throw new BpfException($"probe {helper} in {type}/{attach}: load", errno);
    }

    /// <summary>Whether the kernel describes its own types in BTF, which libbpf reads to place a program's field reads (CO-RE).</summary>
    public static ProbeOutcome KernelBtf() => File.Exists(KernelBtfPath)
        ? ProbeOutcome.Yes
        : ProbeOutcome.No($"no {KernelBtfPath} (a kernel built without CONFIG_DEBUG_INFO_BTF)");

    private const string KernelBtfPath = "/sys/kernel/btf/vmlinux";

    /// <summary>Whether the kernel loads BTF (type information, needed by socket storage maps).</summary>
    public static ProbeOutcome Btf()
    {
        var fd = LoadBtf(out var errno);
        if (fd >= 0)
            return Close(fd, ProbeOutcome.Yes);
        return errno is LinuxErrno.EINVAL or LinuxErrno.EOPNOTSUPP
            ? ProbeOutcome.No($"the kernel does not load BTF ({BpfException.Describe(errno)})")
            : throw new BpfException("probe BTF: load", errno);
    }

    /// <summary>Whether the kernel creates a BPF_MAP_TYPE_SK_STORAGE map (libbpf's probe, which types it with BTF of its own).</summary>
    public static ProbeOutcome SkStorageMap()
    {
        var btf = Btf();
        if (!btf.Supported)
            return btf;
        return LibBpf.ProbeMapType(BPF_MAP_TYPE_SK_STORAGE, null) switch
        {
            1 => ProbeOutcome.Yes,
            0 => ProbeOutcome.No("the kernel does not create socket storage maps"),
            var error => throw new BpfException("probe socket storage: create map", -error),
        };
    }

    /// <summary>
    /// Whether cgroup attachments can be bpf_links (BPF_LINK_CREATE). Called with no program:
    /// a kernel that knows the command complains about the fd (EBADF), an older one about the command (EINVAL).
    /// </summary>
    public static ProbeOutcome CgroupLink()
    {
        var ret = LibBpf.LinkCreate(-1, -1, (uint)BpfAttachType.CgroupInetIngress, null);
        return -ret switch
        {
            EBADF => ProbeOutcome.Yes,
            LinuxErrno.EINVAL => ProbeOutcome.No("the kernel has no BPF_LINK_CREATE for cgroups"),
            _ => throw new BpfException("probe cgroup bpf_link: create", -ret),
        };
    }

    private const uint BPF_MAP_TYPE_SK_STORAGE = 24;

    private static (int Fd, int Errno, string Log) Load(BpfProgramType type, BpfAttachType attach, ulong[] program)
    {
        var log = (byte*)NativeMemory.AllocZeroed(LogSize);
        try
        {
            var opts = new LibBpf.ProgLoadOpts
            {
                Size = (nuint)sizeof(LibBpf.ProgLoadOpts),
                ExpectedAttachType = (uint)attach,
                LogLevel = 1,
                LogSize = LogSize,
                LogBuf = log,
            };
            fixed (ulong* insns = program)
            {
                var fd = LibBpf.ProgLoad((uint)type, null, License, insns, (nuint)program.Length, &opts);
                return (fd, fd < 0 ? -fd : 0, Marshal.PtrToStringUTF8((nint)log) ?? "");
            }
        }
        finally
        {
            NativeMemory.Free(log);
        }
    }

    private static int LoadBtf(out int errno)
    {
        var blob = MinimalBtf.Bytes;
        fixed (byte* data = blob)
        {
            var opts = new LibBpf.BtfLoadOpts { Size = (nuint)sizeof(LibBpf.BtfLoadOpts) };
            var fd = LibBpf.BtfLoad(data, (nuint)blob.Length, &opts);
            errno = fd < 0 ? -fd : 0;
            return fd;
        }
    }

    private static ProbeOutcome Close(int fd, ProbeOutcome outcome)
    {
        LibC.Close(fd);
        return outcome;
    }
}

/// <summary>Encodes the few eBPF instructions the probes need (struct bpf_insn, little-endian).</summary>
internal static class Insn
{
    public static ulong Mov64Imm(int dst, int imm) => Encode(0xb7, dst, 0, 0, imm);
    public static ulong Call(int helper) => Encode(0x85, 0, 0, 0, helper);
    public static ulong Exit() => Encode(0x95, 0, 0, 0, 0);

    private static ulong Encode(byte code, int dst, int src, short off, int imm) =>
        code | (ulong)(byte)((src << 4) | dst) << 8 | (ulong)(ushort)off << 16 | (ulong)(uint)imm << 32;
}

/// <summary>The smallest BTF there is to load: one type, a 32-bit signed int.</summary>
internal static class MinimalBtf
{
    public static byte[] Bytes { get; } = Build();

    private static byte[] Build()
    {
        const int headerLength = 24, typesLength = 16;
        byte[] strings = [0, (byte)'i', (byte)'n', (byte)'t', 0];
        var blob = new byte[headerLength + typesLength + strings.Length];
        var w = new BinaryWriter(new MemoryStream(blob));
        w.Write((ushort)0xeB9F); // magic
        w.Write((byte)1);        // version
        w.Write((byte)0);        // flags
        w.Write(headerLength);
        w.Write(0);              // type section offset
        w.Write(typesLength);
        w.Write(typesLength);    // string section offset
        w.Write(strings.Length);
        w.Write(1);              // name: "int"
        w.Write(1u << 24);       // kind INT, no members
        w.Write(4);              // size in bytes
        w.Write((1u << 24) | 32);// signed, offset 0, 32 bits
        w.Write(strings);
        return blob;
    }
}

/// <summary>The program types the probes load (enum bpf_prog_type).</summary>
internal enum BpfProgramType : uint
{
    SockOps = 13,
    CgroupSockAddr = 18,
    CgroupSockopt = 25,
}

/// <summary>The attach types the probes name (enum bpf_attach_type).</summary>
internal enum BpfAttachType : uint
{
    CgroupInetIngress = 0,
    CgroupSockOps = 3,
    CgroupGetsockopt = 21,
    CgroupSetsockopt = 22,
    CgroupInet4Getpeername = 29,
    CgroupInet6Getpeername = 30,
}

/// <summary>The helpers the probes ask about (enum bpf_func_id).</summary>
internal enum BpfHelper
{
    SkStorageGet = 107,
    GetNetnsCookie = 122,
    SkcToTcpSock = 137,
    LoadHdrOpt = 142,
    StoreHdrOpt = 143,
    ReserveHdrOpt = 144,
    SetRetval = 187,
}
