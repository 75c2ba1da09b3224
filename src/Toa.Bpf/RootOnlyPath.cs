// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Bpf;

/// <summary>
/// Whether only root can change what a path names: what root keeps there (pins, the executable a
/// boot unit runs) is only as safe as the path. Every part of it, from the path up to <c>/</c> and
/// through each symbolic link, must be owned by root and writable by no group or other user. A
/// directory above it may be writable by all if it has the sticky bit (as <c>/tmp</c> and the bpf
/// filesystem's root do): no one else can rename or remove root's entries there.
/// </summary>
public static unsafe partial class RootOnlyPath
{
    private const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_MODE = 0x2, STATX_UID = 0x8;
    private const int StatxSize = 256, UidOffset = 20, ModeOffset = 28;
    private const int S_IFMT = 0xF000, S_IFLNK = 0xA000, S_IFDIR = 0x4000, S_ISVTX = 0x200, GroupOrOtherWrite = 0x12;

    // As the kernel's own limit on links followed in one lookup.
    private const int MaxLinks = 40;

    /// <summary>
    /// The first part of <paramref name="path"/> someone other than root could change, as
    /// "PART is owned by uid N" or "PART is writable by others than root (mode M)"; null when
    /// there is none. Parts that do not exist yet are skipped: check again once they are made.
    /// </summary>
    public static string? Problem(string path) => Problem(Path.GetFullPath(path), links: 0);

    private static string? Problem(string path, int links)
    {
        for (var part = path; part is not null; part = Path.GetDirectoryName(part))
        {
            if (Stat(part) is not var (uid, mode))
                continue;
            if (uid != 0)
                return $"{part} is owned by uid {uid}";
            if ((mode & S_IFMT) == S_IFLNK)
            {
                if (links == MaxLinks)
                    return $"{part} leads through more than {MaxLinks} symbolic links";
                var target = Path.GetFullPath(File.ResolveLinkTarget(part, returnFinalTarget: false)!.FullName);
                if (Problem(target, links + 1) is { } problem)
                    return problem;
                continue;
            }
            var stickyAbove = part != path && (mode & S_IFMT) == S_IFDIR && (mode & S_ISVTX) != 0;
            if ((mode & GroupOrOtherWrite) != 0 && !stickyAbove)
                return $"{part} is writable by others than root (mode {Convert.ToString(mode & 0xFFF, 8)})";
        }
        return null;
    }

    // lstat: a link's own owner counts, its target is checked on its own.
    private static (uint Uid, int Mode)? Stat(string path)
    {
        var buffer = stackalloc byte[StatxSize];
        if (Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MODE | STATX_UID, buffer) == 0)
            return (*(uint*)(buffer + UidOffset), *(ushort*)(buffer + ModeOffset));
        var errno = Marshal.GetLastPInvokeError();
        if (errno is LinuxErrno.ENOENT or ENOTDIR)
            return null;
        throw new IOException($"{path}: stat: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    private const int ENOTDIR = 20;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);
}
