// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Runtime.InteropServices;
using Toa.Bpf.Native;

namespace Toa.Bpf;

/// <summary>
/// A network namespace as eBPF programs can tell it: the inode number of its nsfs file, which
/// /proc/PID/ns/net and the bind mounts of <c>ip netns</c> (/var/run/netns/NAME) both name
/// and which a program reads from a socket. Unique among the namespaces alive; the kernel
/// may give it to a new namespace once this one is gone.
/// </summary>
/// <param name="Inode">The inode number, as <c>ls -iL /proc/self/ns/net</c> prints it.</param>
public readonly record struct NetworkNamespace(uint Inode)
{
    /// <summary>The path that names the namespace of the calling process.</summary>
    public const string Current = "/proc/self/ns/net";

    private const uint NS_GET_NSTYPE = 0xb703; // _IO(0xb7, 0x3), Linux 4.11
    private const int CLONE_NEWNET = 0x40000000;
    private const int ENOTTY = 25;

    /// <summary>The namespace <paramref name="path"/> names; throws <see cref="ArgumentException"/> if it names none.</summary>
    public static NetworkNamespace Of(string path)
    {
        var fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC);
        if (fd < 0)
            throw Refuse(path, Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        try
        {
            // The file's kind is the namespace's: nsfs answers this, any other file ENOTTY.
            var type = LibC.Ioctl(fd, NS_GET_NSTYPE, 0);
            if (type < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw Refuse(path, errno == ENOTTY ? "not a namespace file" : Marshal.GetPInvokeErrorMessage(errno));
            }
            if (type != CLONE_NEWNET)
                throw Refuse(path, "not a network namespace");
            return new NetworkNamespace((uint)(LibC.InodeOf(path) ?? throw Refuse(path, "vanished")));
        }
        finally
        {
            LibC.Close(fd);
        }
    }

    private static ArgumentException Refuse(string path, string why) => new($"network namespace {path}: {why}");

    /// <summary>"net:[4026531840]", as /proc/PID/ns/net links read.</summary>
    public override string ToString() => $"net:[{Inode.ToString(CultureInfo.InvariantCulture)}]";
}
