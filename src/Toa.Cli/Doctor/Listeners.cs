// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Net;

namespace Toa.Cli.Doctor;

/// <summary>A process holding a listening socket.</summary>
/// <param name="Pid">Its id.</param>
/// <param name="Name">Its command name (/proc/PID/comm).</param>
/// <param name="Cgroup">Its cgroup v2 path relative to the hierarchy ("/system.slice/nginx.service"), or null.</param>
internal sealed record ListenerOwner(int Pid, string Name, string? Cgroup);

/// <summary>A listening TCP socket and the processes holding it.</summary>
/// <param name="Local">Where it listens.</param>
/// <param name="Owners">Who holds it (several after a fork); empty when no visible process does.</param>
internal sealed record Listener(IPEndPoint Local, IReadOnlyList<ListenerOwner> Owners);

/// <summary>
/// Listening sockets of this network namespace, as <c>ss -ltnp</c> finds them:
/// /proc/net/tcp and tcp6 give each socket's inode, /proc/PID/fd the processes
/// holding it, /proc/PID/cgroup their cgroup.
/// </summary>
internal static class Listeners
{
    private const string ListenState = "0A";

    /// <summary>The listeners on <paramref name="port"/>.</summary>
    public static IReadOnlyList<Listener> OnPort(int port)
    {
        var sockets = Read("/proc/net/tcp").Concat(Read("/proc/net/tcp6")).Where(s => s.Local.Port == port).ToList();
        if (sockets.Count == 0)
            return [];
        var owners = OwnersOf(sockets.Select(s => s.Inode).ToHashSet());
        return sockets.Select(s => new Listener(s.Local, owners.GetValueOrDefault(s.Inode) ?? [])).ToArray();
    }

    // "  0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 ..."
    private static IEnumerable<(IPEndPoint Local, ulong Inode)> Read(string path)
    {
        if (!File.Exists(path))
            yield break;
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 10 || fields[3] != ListenState)
                continue;
            yield return (ParseEndPoint(fields[1]), ulong.Parse(fields[9], CultureInfo.InvariantCulture));
        }
    }

    // The kernel prints the address as 32-bit words in host byte order, the port in hex.
    internal static IPEndPoint ParseEndPoint(string text)
    {
        var colon = text.IndexOf(':');
        var hex = text[..colon];
        var bytes = Convert.FromHexString(hex);
        for (var word = 0; word < bytes.Length; word += 4)
            if (BitConverter.IsLittleEndian)
                Array.Reverse(bytes, word, 4);
        var port = int.Parse(text[(colon + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var address = new IPAddress(bytes);
        return new IPEndPoint(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address, port);
    }

    private static Dictionary<ulong, List<ListenerOwner>> OwnersOf(HashSet<ulong> inodes)
    {
        var owners = new Dictionary<ulong, List<ListenerOwner>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                continue;
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Join(dir, "fd")))
                {
                    var target = new FileInfo(fd).LinkTarget;
                    if (target is null || !target.StartsWith("socket:[", StringComparison.Ordinal)
                        || !ulong.TryParse(target.AsSpan(8, target.Length - 9), CultureInfo.InvariantCulture, out var inode)
                        || !inodes.Contains(inode))
                        continue;
                    var list = owners.TryGetValue(inode, out var found) ? found : owners[inode] = [];
                    if (list.All(o => o.Pid != pid))
                        list.Add(new ListenerOwner(pid, File.ReadAllText(Path.Join(dir, "comm")).Trim(), CgroupOf(pid)));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while being read.
            }
        }
        return owners;
    }

    private static string? CgroupOf(int pid) =>
        File.ReadLines($"/proc/{pid}/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..];
}
