// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Bpf;

/// <summary>
/// The bpf filesystem, where pins live so programs and maps outlive the process
/// that loaded them. Not every system mounts it; <see cref="EnsureMounted"/> does.
/// </summary>
public static partial class BpfFs
{
    /// <summary>The conventional mount point.</summary>
    public const string DefaultMount = "/sys/fs/bpf";

    /// <summary>Whether a bpf filesystem is mounted at <paramref name="path"/>.</summary>
    public static bool IsMounted(string path = DefaultMount) =>
        Mounts.Find("bpf").Contains(Path.TrimEndingDirectorySeparator(path));

    /// <summary>Mounts a bpf filesystem at <paramref name="path"/> unless one is there; true if it mounted.</summary>
    public static bool EnsureMounted(string path = DefaultMount)
    {
        if (IsMounted(path))
            return false;
        Directory.CreateDirectory(path);
        if (Mount("bpf", path, "bpf", 0, 0) != 0)
            throw new BpfException($"bpffs {path}: mount", Marshal.GetLastPInvokeError());
        return true;
    }

    [LibraryImport("libc", EntryPoint = "mount", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Mount(string source, string target, string fsType, ulong flags, nint data);
}
