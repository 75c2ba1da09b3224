// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Bpf.Native;

/// <summary>
/// The slice of libbpf 1.x this project uses. libbpf returns negative errno from
/// int functions and NULL with errno set from pointer functions (1.0 semantics).
/// </summary>
internal static unsafe partial class LibBpf
{
    private const string Lib = "libbpf.so.1";

    [StructLayout(LayoutKind.Sequential)]
    internal struct ObjectOpenOpts
    {
        public nuint Size;
        public byte* ObjectName;
        public byte RelaxedMaps;
        public byte* PinRootPath;
        private uint _removedAttachProgFd;
        public byte* Kconfig;
        public byte* BtfCustomPath;
        public byte* KernelLogBuf;
        public nuint KernelLogSize;
        public uint KernelLogLevel;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct ObjGetOptions
    {
        public nuint Size;
        public uint FileFlags;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct TestRunOpts
    {
        public nuint Size;
        public void* DataIn;
        public void* DataOut;
        public uint DataSizeIn;
        public uint DataSizeOut;
        public void* CtxIn;
        public void* CtxOut;
        public uint CtxSizeIn;
        public uint CtxSizeOut;
        public uint Retval;
        public int Repeat;
        public uint Duration;
        public uint Flags;
        public uint Cpu;
        public uint BatchSize;
    }

    /// <summary>struct bpf_tc_hook (libbpf 0.6+): a qdisc's hook point.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TcHookOpts
    {
        public nuint Size;
        public int Ifindex;
        public uint AttachPoint;
        public uint Parent;
        private uint _pad;
    }

    /// <summary>struct bpf_tc_opts: one filter at a hook, named by handle and priority.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TcOpts
    {
        public nuint Size;
        public int ProgFd;
        public uint Flags;
        public uint ProgId;
        public uint Handle;
        public uint Priority;
        private uint _pad;
    }

    internal const uint BPF_TC_INGRESS = 1;
    internal const uint BPF_TC_F_REPLACE = 1;

    [LibraryImport(Lib, EntryPoint = "bpf_tc_hook_create")]
    internal static partial int TcHookCreate(TcHookOpts* hook);

    [LibraryImport(Lib, EntryPoint = "bpf_tc_attach")]
    internal static partial int TcAttach(TcHookOpts* hook, TcOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_tc_detach")]
    internal static partial int TcDetach(TcHookOpts* hook, TcOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_tc_query")]
    internal static partial int TcQuery(TcHookOpts* hook, TcOpts* opts);

    [LibraryImport(Lib, EntryPoint = "libbpf_set_print")]
    internal static partial nint SetPrint(delegate* unmanaged[Cdecl]<int, byte*, nint, int> fn);

    [LibraryImport(Lib, EntryPoint = "libbpf_num_possible_cpus")]
    internal static partial int NumPossibleCpus();

    [LibraryImport(Lib, EntryPoint = "bpf_object__open_mem", SetLastError = true)]
    internal static partial nint ObjectOpenMem(byte* buf, nuint size, ObjectOpenOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_object__load")]
    internal static partial int ObjectLoad(nint obj);

    [LibraryImport(Lib, EntryPoint = "bpf_object__close")]
    internal static partial void ObjectClose(nint obj);

    [LibraryImport(Lib, EntryPoint = "bpf_object__btf")]
    internal static partial nint ObjectBtf(nint obj);

    [LibraryImport(Lib, EntryPoint = "bpf_object__next_program")]
    internal static partial nint ObjectNextProgram(nint obj, nint prev);

    [LibraryImport(Lib, EntryPoint = "bpf_object__next_map")]
    internal static partial nint ObjectNextMap(nint obj, nint prev);

    [LibraryImport(Lib, EntryPoint = "bpf_program__name")]
    internal static partial byte* ProgramName(nint prog);

    [LibraryImport(Lib, EntryPoint = "bpf_program__fd")]
    internal static partial int ProgramFd(nint prog);

    [LibraryImport(Lib, EntryPoint = "bpf_program__set_autoload")]
    internal static partial int ProgramSetAutoload(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(Lib, EntryPoint = "bpf_program__set_log_buf")]
    internal static partial int ProgramSetLogBuf(nint prog, byte* buf, nuint size);

    [LibraryImport(Lib, EntryPoint = "bpf_program__attach_cgroup", SetLastError = true)]
    internal static partial nint ProgramAttachCgroup(nint prog, int cgroupFd);

    [LibraryImport(Lib, EntryPoint = "bpf_map__name")]
    internal static partial byte* MapName(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_map__max_entries")]
    internal static partial uint MapMaxEntries(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_map__set_max_entries")]
    internal static partial int MapSetMaxEntries(nint map, uint maxEntries);

    [LibraryImport(Lib, EntryPoint = "bpf_map__fd")]
    internal static partial int MapFd(nint map);

    [LibraryImport(Lib, EntryPoint = "bpf_map__reuse_fd")]
    internal static partial int MapReuseFd(nint map, int fd);

    [LibraryImport(Lib, EntryPoint = "bpf_map__initial_value")]
    internal static partial byte* MapInitialValue(nint map, nuint* size);

    [LibraryImport(Lib, EntryPoint = "bpf_link__pin", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int LinkPin(nint link, string path);

    [LibraryImport(Lib, EntryPoint = "bpf_link__fd")]
    internal static partial int LinkFd(nint link);

    [LibraryImport(Lib, EntryPoint = "bpf_link__disconnect")]
    internal static partial void LinkDisconnect(nint link);

    [LibraryImport(Lib, EntryPoint = "bpf_link__destroy")]
    internal static partial int LinkDestroy(nint link);

    [LibraryImport(Lib, EntryPoint = "bpf_link__open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint LinkOpen(string path);

    [LibraryImport(Lib, EntryPoint = "bpf_obj_pin", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ObjPin(int fd, string path);

    [LibraryImport(Lib, EntryPoint = "bpf_obj_get_opts", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ObjGetOpts(string path, ObjGetOptions* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_obj_get_info_by_fd")]
    internal static partial int ObjGetInfoByFd(int fd, void* info, uint* infoLen);

    [LibraryImport(Lib, EntryPoint = "bpf_map_lookup_elem")]
    internal static partial int MapLookupElem(int fd, void* key, void* value);

    [LibraryImport(Lib, EntryPoint = "bpf_map_update_elem")]
    internal static partial int MapUpdateElem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Lib, EntryPoint = "bpf_map_delete_elem")]
    internal static partial int MapDeleteElem(int fd, void* key);

    [LibraryImport(Lib, EntryPoint = "bpf_map_get_next_key")]
    internal static partial int MapGetNextKey(int fd, void* key, void* nextKey);

    // opts may be null: libbpf then uses the defaults (no element or map flags).
    [LibraryImport(Lib, EntryPoint = "bpf_map_lookup_batch")]
    internal static partial int MapLookupBatch(int fd, void* inBatch, void* outBatch, void* keys, void* values, uint* count, void* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_map_update_batch")]
    internal static partial int MapUpdateBatch(int fd, void* keys, void* values, uint* count, void* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_map_delete_batch")]
    internal static partial int MapDeleteBatch(int fd, void* keys, uint* count, void* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_prog_test_run_opts")]
    internal static partial int ProgTestRunOpts(int progFd, TestRunOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_prog_get_fd_by_id")]
    internal static partial int ProgGetFdById(uint id);

    [LibraryImport(Lib, EntryPoint = "bpf_link_update")]
    internal static partial int LinkUpdate(int linkFd, int newProgFd, void* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_enable_stats")]
    internal static partial int EnableStats(int type);

    [LibraryImport(Lib, EntryPoint = "ring_buffer__new", SetLastError = true)]
    internal static partial nint RingBufferNew(int mapFd, delegate* unmanaged[Cdecl]<nint, void*, nuint, int> sample, nint ctx, void* opts);

    [LibraryImport(Lib, EntryPoint = "ring_buffer__poll")]
    internal static partial int RingBufferPoll(nint rb, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "ring_buffer__consume")]
    internal static partial int RingBufferConsume(nint rb);

    [LibraryImport(Lib, EntryPoint = "ring_buffer__free")]
    internal static partial void RingBufferFree(nint rb);

    [LibraryImport(Lib, EntryPoint = "btf__find_by_name_kind", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int BtfFindByNameKind(nint btf, string name, uint kind);

    [LibraryImport(Lib, EntryPoint = "btf__type_by_id")]
    internal static partial uint* BtfTypeById(nint btf, uint id);

    [LibraryImport(Lib, EntryPoint = "btf__name_by_offset")]
    internal static partial byte* BtfNameByOffset(nint btf, uint offset);

    [LibraryImport(Lib, EntryPoint = "btf__resolve_size")]
    internal static partial long BtfResolveSize(nint btf, uint id);
}

/// <summary>The C library calls libbpf's callback contract and fd ownership need.</summary>
internal static unsafe partial class LibC
{
    [LibraryImport("libc", EntryPoint = "vsnprintf")]
    internal static partial int VsnPrintf(byte* buf, nuint size, byte* format, nint args);

    [LibraryImport("libc", EntryPoint = "close")]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);

    private const int AT_FDCWD = -100;
    private const uint STATX_INO = 0x100;
    private const int StatxSize = 256, StatxInoOffset = 32;

    /// <summary>The inode number of <paramref name="path"/>, or null if it does not exist.</summary>
    internal static ulong? InodeOf(string path)
    {
        var buffer = stackalloc byte[StatxSize];
        if (Statx(AT_FDCWD, path, 0, STATX_INO, buffer) != 0)
            return null;
        return *(ulong*)(buffer + StatxInoOffset);
    }

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, nint argument);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(int fd, int operation);

    internal const int LOCK_EX = 2, LOCK_NB = 4;

    [LibraryImport("libc", EntryPoint = "chmod", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Chmod(string path, uint mode);

    [StructLayout(LayoutKind.Sequential)]
    internal struct IfNameIndex
    {
        public uint Index;
        public byte* Name;
    }

    /// <summary>The interfaces of the calling thread's network namespace (asked over netlink, unlike /sys/class/net).</summary>
    [LibraryImport("libc", EntryPoint = "if_nameindex", SetLastError = true)]
    internal static partial IfNameIndex* IfNameIndexList();

    [LibraryImport("libc", EntryPoint = "if_freenameindex")]
    internal static partial void IfFreeNameIndex(IfNameIndex* list);

    internal const int O_RDONLY = 0;
    // Not one number everywhere: arm64's is 040000, where x86's 0200000 means O_DIRECT (and
    // opening a directory with it fails with EINVAL).
    internal static readonly int O_DIRECTORY = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x4000 : 0x10000;
    internal const int O_CLOEXEC = 0x80000;
}
