// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Toa.Bpf.Native;

namespace Toa.Bpf;

/// <summary>A program inside a <see cref="BpfObject"/>; valid as long as the object is.</summary>
public sealed unsafe class BpfProgram
{
    private readonly BpfObject _owner;

    internal BpfProgram(BpfObject owner, nint prog)
    {
        _owner = owner;
        Handle = prog;
        Name = Marshal.PtrToStringUTF8((nint)LibBpf.ProgramName(prog)) ?? "";
    }

    /// <summary>The program's function name in the C source.</summary>
    public string Name { get; }

    internal nint Handle { get; }

    /// <summary>The program's fd once loaded, else -1.</summary>
    public int Fd => LibBpf.ProgramFd(Handle);

    /// <summary>Whether the program is loaded with the object (default true). Set before load.</summary>
    public void SetAutoload(bool autoload) =>
        BpfException.Check(LibBpf.ProgramSetAutoload(Handle, autoload), $"program {Name}: set autoload");

    /// <summary>Attaches the loaded program to a cgroup v2 directory as a bpf_link.</summary>
    public BpfLink AttachCgroup(SafeFileHandle cgroup)
    {
        var link = LibBpf.ProgramAttachCgroup(Handle, (int)cgroup.DangerousGetHandle());
        BpfException.CheckPointer(link, $"program {Name}: attach to cgroup");
        return new BpfLink(link);
    }

    /// <summary>Kernel facts about the loaded program: id, load time, run statistics.</summary>
    public BpfProgramInfo Info => BpfProgramInfo.Read(Fd, $"program {Name}");

    /// <summary>
    /// Runs the program once on <paramref name="data"/> (BPF_PROG_TEST_RUN) and returns
    /// its return value. Only program types with a test-run (not sock_ops or cgroup hooks).
    /// </summary>
    public uint TestRun(ReadOnlySpan<byte> data, Span<byte> context = default)
    {
        fixed (byte* d = data)
        fixed (byte* c = context)
        {
            var opts = new LibBpf.TestRunOpts
            {
                Size = (nuint)sizeof(LibBpf.TestRunOpts),
                DataIn = d,
                DataSizeIn = (uint)data.Length,
                CtxIn = context.IsEmpty ? null : c,
                CtxSizeIn = (uint)context.Length,
                CtxOut = context.IsEmpty ? null : c,
                CtxSizeOut = (uint)context.Length,
                Repeat = 1,
            };
            BpfException.Check(LibBpf.ProgTestRunOpts(Fd, &opts), $"program {Name}: test run");
            return opts.Retval;
        }
    }

    /// <summary>
    /// Runs a packet program (XDP, tc) once on <paramref name="data"/> and copies the
    /// packet as the program left it into <paramref name="output"/>; returns the verdict.
    /// </summary>
    public uint TestRun(ReadOnlySpan<byte> data, Span<byte> output, out int outputLength)
    {
        fixed (byte* d = data)
        fixed (byte* o = output)
        {
            var opts = new LibBpf.TestRunOpts
            {
                Size = (nuint)sizeof(LibBpf.TestRunOpts),
                DataIn = d,
                DataSizeIn = (uint)data.Length,
                DataOut = o,
                DataSizeOut = (uint)output.Length,
                Repeat = 1,
            };
            BpfException.Check(LibBpf.ProgTestRunOpts(Fd, &opts), $"program {Name}: test run");
            outputLength = (int)opts.DataSizeOut;
            return opts.Retval;
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{_owner.Name}/{Name}";
}

/// <summary>What the kernel reports about a loaded program (struct bpf_prog_info).</summary>
public sealed record BpfProgramInfo(uint Id, uint Type, string Name, DateTimeOffset LoadedAt, ulong RunTimeNs, ulong RunCount)
{
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct Raw
    {
        public uint Type, Id;
        public fixed byte Tag[8];
        public uint JitedProgLen, XlatedProgLen;
        public ulong JitedProgInsns, XlatedProgInsns;
        public ulong LoadTime;
        public uint CreatedByUid, NrMapIds;
        public ulong MapIds;
        public fixed byte Name[16];
        public uint Ifindex, GplCompatible;
        public ulong NetnsDev, NetnsIno;
        public uint NrJitedKsyms, NrJitedFuncLens;
        public ulong JitedKsyms, JitedFuncLens;
        public uint BtfId, FuncInfoRecSize;
        public ulong FuncInfo;
        public uint NrFuncInfo, NrLineInfo;
        public ulong LineInfo, JitedLineInfo;
        public uint NrJitedLineInfo, LineInfoRecSize, JitedLineInfoRecSize, NrProgTags;
        public ulong ProgTags;
        public ulong RunTimeNs, RunCnt;
    }

    /// <summary>Reads the info of the program behind <paramref name="fd"/>.</summary>
    public static unsafe BpfProgramInfo Read(int fd, string what)
    {
        Raw raw = default;
        var len = (uint)sizeof(Raw);
        BpfException.Check(LibBpf.ObjGetInfoByFd(fd, &raw, &len), $"{what}: info");
        var name = Marshal.PtrToStringUTF8((nint)raw.Name) ?? "";
        // load_time counts from boot; wall time = now - (uptime - load_time).
        var sinceLoad = TimeSpan.FromMilliseconds(Environment.TickCount64) - TimeSpan.FromTicks((long)(raw.LoadTime / 100));
        return new BpfProgramInfo(raw.Id, raw.Type, name, DateTimeOffset.Now - sinceLoad, raw.RunTimeNs, raw.RunCnt);
    }

    /// <summary>The ids of the maps the program behind <paramref name="fd"/> uses.</summary>
    public static unsafe uint[] ReadMapIds(int fd, string what)
    {
        Raw raw = default;
        var len = (uint)sizeof(Raw);
        BpfException.Check(LibBpf.ObjGetInfoByFd(fd, &raw, &len), $"{what}: info");
        var ids = new uint[raw.NrMapIds];
        fixed (uint* buffer = ids)
        {
            // A second call with room for them; any other array it could fill stays unasked for.
            raw = new Raw { NrMapIds = (uint)ids.Length, MapIds = (ulong)buffer };
            len = (uint)sizeof(Raw);
            BpfException.Check(LibBpf.ObjGetInfoByFd(fd, &raw, &len), $"{what}: map ids");
        }
        return ids[..(int)Math.Min(raw.NrMapIds, (uint)ids.Length)];
    }

    /// <summary>Opens a program by its kernel id.</summary>
    public static SafeFileHandle OpenById(uint id)
    {
        var fd = BpfException.Check(LibBpf.ProgGetFdById(id), $"program id {id}: open");
        return new SafeFileHandle(fd, ownsHandle: true);
    }
}
