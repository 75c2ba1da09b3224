// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Bpf.Native;

/// <summary>libbpf's thin bpf(2) wrappers that the feature probes use to load tiny programs, maps and BTF.</summary>
internal static unsafe partial class LibBpf
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct ProgLoadOpts
    {
        public nuint Size;
        public int Attempts;
        public uint ExpectedAttachType;
        public uint ProgBtfFd;
        public uint ProgFlags;
        public uint ProgIfindex;
        public uint KernVersion;
        public uint AttachBtfId;
        public uint AttachProgFd;
        public uint AttachBtfObjFd;
        public int* FdArray;
        public void* FuncInfo;
        public uint FuncInfoCnt;
        public uint FuncInfoRecSize;
        public void* LineInfo;
        public uint LineInfoCnt;
        public uint LineInfoRecSize;
        public uint LogLevel;
        public uint LogSize;
        public byte* LogBuf;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct BtfLoadOpts
    {
        public nuint Size;
        public byte* LogBuf;
        public uint LogLevel;
        public uint LogSize;
    }

    [LibraryImport(Lib, EntryPoint = "bpf_prog_load", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ProgLoad(uint type, string? name, string license, ulong* insns, nuint count, ProgLoadOpts* opts);

    /// <summary>1 when the kernel creates maps of <paramref name="type"/>, 0 when not, else -errno.</summary>
    [LibraryImport(Lib, EntryPoint = "libbpf_probe_bpf_map_type")]
    internal static partial int ProbeMapType(uint type, void* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_btf_load")]
    internal static partial int BtfLoad(void* data, nuint size, BtfLoadOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_link_create")]
    internal static partial int LinkCreate(int progFd, int targetFd, uint attachType, void* opts);
}
