// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Balancer.Management;

/// <summary>
/// Users and groups from the system's databases (NSS, so LDAP or systemd's dynamic users count
/// too), and giving up root once what needs it is done.
/// </summary>
public static partial class Accounts
{
    /// <summary>
    /// Makes the whole process <paramref name="user"/>: its groups, then its gid and uid (glibc
    /// applies each to every thread). Every capability goes with uid 0, on every thread:
    /// capabilities are per thread and cannot be kept on threads the runtime already runs. What
    /// the balancer holds stays usable (listening sockets, the TOA writer's programs and maps);
    /// what it would open anew later (a port below 1024, a first TOA listener) is refused then.
    /// </summary>
    /// <exception cref="ArgumentException">No such user.</exception>
    /// <exception cref="InvalidOperationException">The system refused; the process may be part way.</exception>
    public static void BecomeUser(string user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var (uid, gid) = User(user) ?? throw new ArgumentException($"no such user: {user}", nameof(user));
        if (initgroups(user, gid) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
            throw new InvalidOperationException($"cannot become user {user} (errno {Marshal.GetLastPInvokeError()})");
        // Not reversible: a process that could go back to root gave nothing up.
        if (setresuid(0, 0, 0) == 0)
            throw new InvalidOperationException($"became user {user} but could return to root");
    }

    /// <summary>A user's uid and primary gid, or null when there is no such user.</summary>
    internal static (uint Uid, uint Gid)? User(string name)
    {
        var entry = getpwnam(name);
        // struct passwd { char *pw_name; char *pw_passwd; uid_t pw_uid; gid_t pw_gid; ... }
        return entry == 0 ? null
            : ((uint)Marshal.ReadInt32(entry, 2 * IntPtr.Size), (uint)Marshal.ReadInt32(entry, 2 * IntPtr.Size + 4));
    }

    /// <summary>A group's gid, or null when there is no such group.</summary>
    internal static uint? Group(string name)
    {
        var entry = getgrnam(name);
        // struct group { char *gr_name; char *gr_passwd; gid_t gr_gid; ... }
        return entry == 0 ? null : (uint)Marshal.ReadInt32(entry, 2 * IntPtr.Size);
    }

    /// <summary>
    /// Mode 0660 on <paramref name="path"/>, and group <paramref name="group"/> when it exists: its
    /// owner and that group may use the socket, nobody else.
    /// </summary>
    internal static void RestrictToGroup(string path, string group)
    {
        if (OperatingSystem.IsWindows())
            return; // no such modes; the balancer runs on Linux
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        if (Group(group) is { } gid && chown(path, uint.MaxValue, gid) != 0)
            throw new IOException($"{path}: cannot give it to group {group} (errno {Marshal.GetLastPInvokeError()})");
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint getpwnam(string name);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint getgrnam(string name);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int initgroups(string user, uint group);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setresgid(uint real, uint effective, uint saved);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setresuid(uint real, uint effective, uint saved);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int chown(string path, uint owner, uint group);
}
