// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Toa.Bpf;

/// <summary>
/// The bpf filesystem, where pins live so programs and maps outlive the process
/// that loaded them. Not every system mounts it; <see cref="EnsureMounted"/> does.
/// Whoever can write a pin's directory can remove the pin, and removing a link's pin
/// detaches it: pins belong in directories only root can write (<see cref="RootOnlyPath"/>).
/// </summary>
public static partial class BpfFs
{
    /// <summary>The conventional mount point.</summary>
    public const string DefaultMount = "/sys/fs/bpf";

    // The kernel's default root is 1777, where anyone may make a directory that a later load would
    // pin into; 0755 (1755: the kernel keeps the sticky bit) leaves creating to root and still lets
    // servers reach pins readable by all.
    private const string MountData = "mode=0755";
    private const ulong MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8;

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>Whether a bpf filesystem is mounted at <paramref name="path"/>.</summary>
    public static bool IsMounted(string path = DefaultMount) =>
        Mounts.Find("bpf").Contains(Path.TrimEndingDirectorySeparator(path));

    /// <summary>
    /// Mounts a bpf filesystem at <paramref name="path"/> unless one is there (as systemd does: no
    /// setuid, devices or execution; root alone creates entries); true if it mounted.
    /// </summary>
    public static bool EnsureMounted(string path = DefaultMount)
    {
        if (IsMounted(path))
            return false;
        Directory.CreateDirectory(path);
        if (Mount("bpf", path, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, MountData) != 0)
            throw new BpfException($"bpffs {path}: mount", Marshal.GetLastPInvokeError());
        return true;
    }

    /// <summary>
    /// Makes the directory <paramref name="path"/> and any missing above it, mode 0755 whatever the
    /// umask lets through (never more), so that no one but root can write them.
    /// </summary>
    public static void CreateDirectory(string path)
    {
        Debug.Assert(OperatingSystem.IsLinux());
        Directory.CreateDirectory(path, DirectoryMode);
    }

    /// <summary>
    /// Deletes the directory <paramref name="path"/> if it is empty, then each directory above it that
    /// is left empty, up to the bpf filesystem's mount point: what <see cref="CreateDirectory"/> made for
    /// pins goes with the last of them. A directory someone else still uses is not empty and stays.
    /// </summary>
    public static void DeleteEmptyDirectories(string path)
    {
        var mounts = Mounts.Find("bpf");
        for (var dir = Path.TrimEndingDirectorySeparator(path); !mounts.Contains(dir) && Directory.Exists(dir); dir = Path.GetDirectoryName(dir)!)
        {
            if (Directory.EnumerateFileSystemEntries(dir).Any())
                return;
            Directory.Delete(dir);
        }
    }

    /// <summary>
    /// The kind of bpf object behind <paramref name="fd"/> as the kernel names its files:
    /// <c>bpf-map</c>, <c>bpf-prog</c> or <c>bpf-link</c> (<c>bpf_link</c> on older kernels, given
    /// here as <c>bpf-link</c> too). A pin opens whatever it holds, and the info calls answer for any
    /// kind: this tells a map's pin from a link's.
    /// </summary>
    internal static string KindOf(int fd) =>
        new FileInfo($"/proc/self/fd/{fd}").LinkTarget is { } target && target.StartsWith(AnonInode, StringComparison.Ordinal)
            ? target[AnonInode.Length..].Replace('_', '-')
            : "file that is no bpf object";

    private const string AnonInode = "anon_inode:";

    [LibraryImport("libc", EntryPoint = "mount", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Mount(string source, string target, string fsType, ulong flags, string data);
}
