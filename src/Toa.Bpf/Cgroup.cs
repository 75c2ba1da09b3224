// SPDX-License-Identifier: MIT
using Microsoft.Win32.SafeHandles;
using Toa.Bpf.Native;

namespace Toa.Bpf;

/// <summary>
/// A directory of the cgroup v2 hierarchy. Socket programs attached to a cgroup
/// see the sockets created by its processes (and its descendants' processes).
/// The hierarchy is mounted at /sys/fs/cgroup on current distributions and at
/// /sys/fs/cgroup/unified on hybrid ones; <see cref="Root"/> finds it.
/// </summary>
public sealed class Cgroup
{
    private Cgroup(string path) => Path = path;

    /// <summary>The directory's absolute path.</summary>
    public string Path { get; }

    /// <summary>The path relative to the hierarchy's root, "/" for the root.</summary>
    public string RelativePath => Path.Length > Root.Length ? Path[Root.Length..] : "/";

    /// <summary>The cgroup v2 mount point; throws when none is mounted.</summary>
    public static string Root => FindRoot()
        ?? throw new InvalidOperationException("no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)");

    /// <summary>The cgroup v2 mount point, or null.</summary>
    public static string? FindRoot() => Mounts.Find("cgroup2").FirstOrDefault();

    /// <summary>The root of the hierarchy: attaching here covers every process.</summary>
    public static Cgroup RootGroup => new(Root);

    /// <summary>The cgroup at an absolute path, or a path relative to the hierarchy's root.</summary>
    public static Cgroup At(string path)
    {
        var full = path.StartsWith(Root, StringComparison.Ordinal) ? path : System.IO.Path.Join(Root, path);
        full = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(full));
        if (!File.Exists(System.IO.Path.Join(full, "cgroup.procs")))
            throw new DirectoryNotFoundException($"cgroup {path}: not a cgroup v2 directory (no cgroup.procs in {full})");
        return new Cgroup(full);
    }

    /// <summary>The cgroup v2 group of process <paramref name="pid"/>.</summary>
    public static Cgroup OfProcess(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/cgroup"))
            if (line.StartsWith("0::", StringComparison.Ordinal))
                return At(line[3..]);
        throw new InvalidOperationException($"process {pid}: not in a cgroup v2 group");
    }

    /// <summary>Creates (or reuses) the child directory <paramref name="name"/>.</summary>
    public Cgroup CreateChild(string name)
    {
        var path = System.IO.Path.Join(Path, name);
        Directory.CreateDirectory(path);
        return new Cgroup(path);
    }

    /// <summary>The children directly below this one.</summary>
    public IEnumerable<Cgroup> Children() =>
        Directory.EnumerateDirectories(Path).Where(d => File.Exists(System.IO.Path.Join(d, "cgroup.procs"))).Select(d => new Cgroup(d));

    /// <summary>The processes in this group (not its descendants).</summary>
    public IReadOnlyList<int> Processes() =>
        File.ReadAllLines(System.IO.Path.Join(Path, "cgroup.procs")).Where(l => l.Length > 0).Select(int.Parse).ToArray();

    /// <summary>Moves process <paramref name="pid"/> (all its threads) into this group.</summary>
    public void AddProcess(int pid) => File.WriteAllText(System.IO.Path.Join(Path, "cgroup.procs"), pid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Opens the directory for attaching programs.</summary>
    public SafeFileHandle Open()
    {
        var fd = LibC.Open(Path, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        if (fd < 0)
            throw new BpfException($"cgroup {Path}: open", System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Removes the (empty) directory; false if it is already gone.</summary>
    public bool Remove()
    {
        if (!Directory.Exists(Path))
            return false;
        Directory.Delete(Path);
        return true;
    }

    /// <summary>
    /// The cgroup with id <paramref name="id"/> (as bpf link info reports it: its directory's inode
    /// number), searched from the root; null when there is none.
    /// </summary>
    public static Cgroup? FindById(ulong id)
    {
        var pending = new Stack<string>([Root]);
        while (pending.Count > 0)
        {
            var path = pending.Pop();
            if (LibC.InodeOf(path) == id)
                return new Cgroup(System.IO.Path.TrimEndingDirectorySeparator(path));
            try
            {
                foreach (var child in Directory.EnumerateDirectories(path))
                    pending.Push(child);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Removed while walking, or not ours to read.
            }
        }
        return null;
    }

    /// <summary>Whether <paramref name="other"/> is this group or below it.</summary>
    public bool Contains(Cgroup other) =>
        other.Path == Path || other.Path.StartsWith(Path.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <inheritdoc />
    public override string ToString() => Path;
}

/// <summary>Mount points by filesystem type, from /proc/self/mountinfo.</summary>
internal static class Mounts
{
    public static IEnumerable<string> Find(string fsType)
    {
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // "id parent major:minor root mountpoint options [optional...] - fstype source superoptions"
            var dash = line.IndexOf(" - ", StringComparison.Ordinal);
            if (dash < 0)
                continue;
            var after = line[(dash + 3)..].Split(' ');
            if (after[0] != fsType)
                continue;
            yield return Unescape(line[..dash].Split(' ')[4]);
        }
    }

    private static string Unescape(string path) => path.Replace("\\040", " ", StringComparison.Ordinal);
}
