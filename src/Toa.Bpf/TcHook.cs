// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Toa.Bpf.Native;

namespace Toa.Bpf;

/// <summary>
/// A program's place on an interface's tc ingress: the clsact qdisc (made when missing) and one
/// filter in direct-action mode, named by its handle and priority. Attaching again at the same
/// handle and priority replaces the program in one step, so traffic never passes unfiltered while
/// a new process takes over. Nothing here is owned by the process: filters stay until detached.
/// Calls act on the calling thread's network namespace.
/// </summary>
/// <param name="Handle">The filter's handle (1..65535).</param>
/// <param name="Priority">The filter's priority (1..65535); lower runs first.</param>
public readonly record struct TcHook(uint Handle, uint Priority)
{
    private const int ENOENT = 2, EEXIST = 17, EINVAL = 22;

    /// <summary>Attaches <paramref name="program"/> to <paramref name="ifindex"/>'s ingress, replacing whatever program the filter held.</summary>
    public unsafe void Attach(int ifindex, BpfProgram program)
    {
        var hook = Hook(ifindex);
        var created = LibBpf.TcHookCreate(&hook);
        if (created < 0 && created != -EEXIST)
            BpfException.Check(created, $"tc ingress of interface {ifindex}: create clsact");
        var opts = Opts();
        opts.ProgFd = program.Fd;
        opts.Flags = LibBpf.BPF_TC_F_REPLACE;
        BpfException.Check(LibBpf.TcAttach(&hook, &opts), $"program {program.Name}: attach to tc ingress of interface {ifindex}");
    }

    /// <summary>Removes the filter from <paramref name="ifindex"/>'s ingress; false when it was not there.</summary>
    public unsafe bool Detach(int ifindex)
    {
        var hook = Hook(ifindex);
        var opts = Opts();
        int ret;
        using (LibBpfLog.Quiet())
            ret = LibBpf.TcDetach(&hook, &opts);
        // No clsact qdisc (EINVAL) or no such filter (ENOENT): nothing to remove.
        if (ret is -ENOENT or -EINVAL)
            return false;
        BpfException.Check(ret, $"tc ingress of interface {ifindex}: detach");
        return true;
    }

    /// <summary>The id of the program the filter holds on <paramref name="ifindex"/>, or null when there is none.</summary>
    public unsafe uint? Query(int ifindex)
    {
        var hook = Hook(ifindex);
        var opts = Opts();
        int ret;
        using (LibBpfLog.Quiet())
            ret = LibBpf.TcQuery(&hook, &opts);
        if (ret is -ENOENT or -EINVAL)
            return null;
        BpfException.Check(ret, $"tc ingress of interface {ifindex}: query");
        return opts.ProgId;
    }

    /// <summary>The interfaces of the calling thread's network namespace, by index.</summary>
    public static unsafe IReadOnlyList<int> Interfaces()
    {
        var list = LibC.IfNameIndexList();
        if (list == null)
            throw new BpfException("interfaces: if_nameindex", Marshal.GetLastPInvokeError());
        try
        {
            var result = new List<int>();
            for (var i = list; i->Index != 0; i++)
                result.Add((int)i->Index);
            return result;
        }
        finally
        {
            LibC.IfFreeNameIndex(list);
        }
    }

    private static unsafe LibBpf.TcHookOpts Hook(int ifindex) =>
        new() { Size = (nuint)sizeof(LibBpf.TcHookOpts), Ifindex = ifindex, AttachPoint = LibBpf.BPF_TC_INGRESS };

    private unsafe LibBpf.TcOpts Opts() => new() { Size = (nuint)sizeof(LibBpf.TcOpts), Handle = Handle, Priority = Priority };
}
