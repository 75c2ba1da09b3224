// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Lab;

/// <summary>
/// A host of the lab: a network namespace. Processes start inside it with
/// nsenter, which changes only the network namespace, so they still see the
/// machine's cgroup and bpf filesystems (ip netns exec would remount /sys).
/// </summary>
public sealed partial class Host : IDisposable
{
    private const int CLONE_NEWNET = 0x40000000;
    private readonly List<LabProcess> _processes = [];

    internal Host(string ns, string name)
    {
        Namespace = ns;
        Name = name;
    }

    /// <summary>The namespace's name (ip netns list).</summary>
    public string Namespace { get; }

    /// <summary>The short name the lab was given.</summary>
    public string Name { get; }

    /// <summary>The namespace's path, for nsenter --net=.</summary>
    public string NamespacePath => $"/var/run/netns/{Namespace}";

    /// <summary>
    /// The namespace's inode: what tells two network namespaces apart where a path cannot, as in the
    /// names under /sys/fs/bpf of state kept per namespace.
    /// </summary>
    public ulong NamespaceInode => ulong.Parse(Shell.Run("stat", "-L", "-c", "%i", NamespacePath).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The host's interfaces, in the order links were made.</summary>
    public List<Interface> Interfaces { get; } = [];

    /// <summary>Runs <c>ip</c> inside the namespace.</summary>
    public string Ip(params string[] args) => Shell.Run("ip", ["-n", Namespace, .. args]);

    /// <summary>Starts a long-running process inside the host, optionally inside a cgroup (by its directory).</summary>
    public LabProcess Start(string file, IEnumerable<string> args, string? cgroupDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var process = LabProcess.Start(Command(file, args, cgroupDirectory), $"{Name}: {Path.GetFileName(file)}", environment);
        lock (_processes)
            _processes.Add(process);
        return process;
    }

    /// <summary>Runs a process inside the host to completion.</summary>
    public async Task<ProcessResult> RunAsync(string file, IEnumerable<string> args, string? standardInput = null,
        string? cgroupDirectory = null, TimeSpan? timeout = null)
    {
        await using var process = Start(file, args, cgroupDirectory);
        if (standardInput is not null)
            await process.StandardInput.WriteAsync(standardInput);
        process.StandardInput.Close();
        return await process.WaitAsync(timeout ?? TimeSpan.FromSeconds(60));
    }

    /// <summary>Starts capturing packets on <paramref name="interfaceName"/> that match a pcap <paramref name="filter"/>.</summary>
    public Task<PacketCapture> CaptureAsync(string interfaceName, string filter) =>
        PacketCapture.StartAsync(this, interfaceName, filter);

    /// <summary>
    /// Runs <paramref name="action"/> on a thread of this process that entered the
    /// namespace: sockets it creates belong to the host. The thread ends afterwards.
    /// </summary>
    public T Enter<T>(Func<T> action)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle(NamespacePath);
                if (SetNs((int)ns.DangerousGetHandle(), CLONE_NEWNET) != 0)
                    throw new InvalidOperationException($"host {Name}: setns: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                result = action();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
            throw new InvalidOperationException($"host {Name}: {failure.Message}", failure);
        return result;
    }

    internal IEnumerable<string> Command(string file, IEnumerable<string> args, string? cgroupDirectory)
    {
        IEnumerable<string> command = ["nsenter", $"--net={NamespacePath}", "--"];
        if (cgroupDirectory is not null)
            command = command.Concat(["sh", "-c", $"echo $$ > '{cgroupDirectory}/cgroup.procs' && exec \"$0\" \"$@\""]);
        return command.Concat([file]).Concat(args);
    }

    /// <summary>Stops the host's processes and deletes the namespace.</summary>
    public void Dispose()
    {
        LabProcess[] processes;
        lock (_processes)
            processes = [.. _processes];
        foreach (var p in processes)
            p.Kill();
        Shell.TryRun("ip", "netns", "del", Namespace);
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
