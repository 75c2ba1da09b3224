// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Toa.Bpf.Native;

namespace Toa.Bpf;

/// <summary>
/// An attachment (bpf_link). Disposing detaches it unless it is pinned, in
/// which case the pin keeps it attached until the pin is removed.
/// </summary>
public sealed unsafe class BpfLink : SafeHandle
{
    internal BpfLink(nint link) : base(0, ownsHandle: true) => SetHandle(link);

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>Opens a pinned link; a pin of anything else is refused.</summary>
    public static BpfLink OpenPinned(string path)
    {
        var link = new BpfLink(BpfException.CheckPointer(LibBpf.LinkOpen(path), $"link {path}: open"));
        if (BpfFs.KindOf(LibBpf.LinkFd(link.handle)) is var kind && kind != "bpf-link")
        {
            link.Dispose();
            throw new BpfException($"link {path}: open: the pin holds a {kind}", LinuxErrno.EINVAL);
        }
        return link;
    }

    /// <summary>Pins the link at <paramref name="path"/> on a bpf filesystem.</summary>
    public void Pin(string path) =>
        BpfException.Check(LibBpf.LinkPin(handle, path), $"link: pin at {path}");

    /// <summary>
    /// Replaces the link's program with <paramref name="program"/> in one step
    /// (bpf_link_update): the attachment never lapses and stays pinned.
    /// </summary>
    public void Update(BpfProgram program) =>
        BpfException.Check(LibBpf.LinkUpdate(LibBpf.LinkFd(handle), program.Fd, null), $"link: replace program with {program.Name}");

    /// <summary>The link's kernel description: ids and, for cgroup links, the cgroup id.</summary>
    public BpfLinkInfo Info
    {
        get
        {
            BpfLinkInfo.Raw raw = default;
            var len = (uint)sizeof(BpfLinkInfo.Raw);
            BpfException.Check(LibBpf.ObjGetInfoByFd(LibBpf.LinkFd(handle), &raw, &len), "link: info");
            return new BpfLinkInfo(raw.Id, raw.ProgId, raw.Type, raw.CgroupId, raw.AttachType);
        }
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        LibBpf.LinkDestroy(handle);
        return true;
    }
}

/// <summary>What the kernel reports about a link (struct bpf_link_info).</summary>
public sealed record BpfLinkInfo(uint Id, uint ProgramId, uint Type, ulong CgroupId, uint AttachType)
{
    /// <summary>BPF_LINK_TYPE_CGROUP.</summary>
    public const uint TypeCgroup = 3;

    [StructLayout(LayoutKind.Sequential)]
    internal struct Raw
    {
        public uint Type, Id, ProgId;
        private uint _pad;
        public ulong CgroupId;
        public uint AttachType;
        private uint _pad2;
        private ulong _reserved0, _reserved1;
    }
}
