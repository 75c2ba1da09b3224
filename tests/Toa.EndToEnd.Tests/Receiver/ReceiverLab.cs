// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Bpf;
using Toa.Lab;
using Toa.Receiver;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>
/// A client host and a server host, and a receiver of the test's own: attached to a
/// cgroup of its own (not the root) and pinned in a directory of its own, so tests
/// run side by side. Disposing kills the processes, unloads, removes the cgroup and
/// the namespaces, also after a failure.
/// </summary>
internal sealed class ReceiverLab : IDisposable
{
    private const string Prefix = "toa-test-";
    private static int s_counter;
    private static readonly Lazy<bool> s_staleRemoved = new(RemoveStale);
    private readonly Network _network;
    private bool _unloaded;

    public ReceiverLab(ReceiverOptions? options = null, bool load = true)
    {
        KernelTest.Require();
        _ = s_staleRemoved.Value;
        var name = $"{Prefix}{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}";
        _network = Network.Create("rcv");
        Cgroup = Bpf.Cgroup.RootGroup.CreateChild(name);
        PinDirectory = Path.Combine(BpfFs.DefaultMount, name);
        try
        {
            Client = _network.AddHost("c");
            Server = _network.AddHost("s");
            Link = _network.Connect(Client, Server);
            var given = options ?? new ReceiverOptions();
            Options = given with
            {
                Cgroup = Cgroup.Path,
                PinDirectory = PinDirectory,
                // The lab's hosts are namespaces the default (the test's own) leaves out.
                Namespaces = given.Namespaces is [NetworkNamespace.Current] ? [Client.NamespacePath, Server.NamespacePath] : given.Namespaces,
            };
            if (load)
                ToaReceiver.Load(Options, force: false);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public Host Client { get; private set; } = null!;
    public Host Server { get; private set; } = null!;
    public Link Link { get; private set; } = null!;
    public Cgroup Cgroup { get; }
    public string PinDirectory { get; }
    public ReceiverOptions Options { get; private set; } = null!;

    public IPAddress ServerAddress(bool v6 = false) => v6 ? Link.B.Ipv6 : Link.B.Ipv4;

    /// <summary>The C sample server in the server host, inside the receiver's cgroup; waits until it listens.</summary>
    public async Task<LabProcess> StartCServerAsync(params string[] args)
    {
        var server = Server.Start(CSamples.Build("toa_server"), args, Cgroup.Path);
        await server.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        return server;
    }

    private static readonly Lock s_cgroupMove = new();

    /// <summary>
    /// A dual-stack listener on <paramref name="port"/> in the server host, inside the receiver's
    /// cgroup: a socket belongs to the cgroup of the process that creates it, so this process joins
    /// the lab's cgroup for as long as it takes to create the listener.
    /// </summary>
    public Socket ListenInCgroup(int port)
    {
        lock (s_cgroupMove)
        {
            var home = Bpf.Cgroup.OfProcess(Environment.ProcessId);
            Cgroup.AddProcess(Environment.ProcessId);
            try
            {
                return Server.Enter(() =>
                {
                    var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
                    socket.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
                    socket.Listen();
                    return socket;
                });
            }
            finally
            {
                home.AddProcess(Environment.ProcessId);
            }
        }
    }

    /// <summary><c>toa connect</c> from the client host to the server's <paramref name="port"/>.</summary>
    public Task<ProcessResult> ConnectAsync(int port, string input, params string[] args)
    {
        var target = args.Contains("--v6-target") ? $"[{Link.B.Ipv6}]:{port}" : $"{Link.B.Ipv4}:{port}";
        return Client.RunToaAsync(input, ["connect", target, .. args.Where(a => a != "--v6-target")]);
    }

    /// <summary>The counters' totals now.</summary>
    public IReadOnlyDictionary<string, ulong> Counters() =>
        ToaReceiver.ReadCounters(PinDirectory).Counters.ToDictionary(c => c.Name, c => c.Total);

    /// <summary>How much each counter moved since <paramref name="before"/>, only those that moved.</summary>
    public IReadOnlyDictionary<string, ulong> CountersSince(IReadOnlyDictionary<string, ulong> before) =>
        Counters().Where(c => c.Value != before[c.Key]).ToDictionary(c => c.Key, c => c.Value - before[c.Key]);

    /// <summary>Waits until <paramref name="condition"/> holds of the counters (closing connections count later).</summary>
    public async Task<IReadOnlyDictionary<string, ulong>> WaitForCountersAsync(Func<IReadOnlyDictionary<string, ulong>, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var counters = Counters();
            if (condition(counters) || DateTime.UtcNow > deadline)
                return counters;
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// How getsockopt 4096 fails on a connection without a NAT64 client: EINVAL, or where the
    /// kernel lets programs choose no errno (before 5.18) its own ENOPROTOOPT, as toa status says.
    /// </summary>
    public SocketError Option4096Refusal =>
        ToaReceiver.Status(PinDirectory)!.ErrnoFromProgram ? SocketError.InvalidArgument : SocketError.ProtocolOption;

    /// <summary>What the C server prints for <see cref="Option4096Refusal"/>.</summary>
    public string Option4096RefusalLine => Option4096Refusal == SocketError.InvalidArgument
        ? "getsockopt 4096: Invalid argument (errno 22)"
        : "getsockopt 4096: Protocol not available (errno 92)";

    public void Unload()
    {
        _unloaded = true;
        ToaReceiver.Unload(PinDirectory);
    }

    // A test run that was killed leaves its receivers and cgroups behind: the next run removes them.
    private static bool RemoveStale()
    {
        bool Stale(string path)
        {
            var name = Path.GetFileName(path);
            var pid = name.StartsWith(Prefix, StringComparison.Ordinal) ? name[Prefix.Length..].Split('-')[0] : null;
            return pid is not null && int.TryParse(pid, out var id) && !Directory.Exists($"/proc/{id}");
        }
        foreach (var pins in Directory.EnumerateDirectories(BpfFs.DefaultMount).Where(Stale))
            ToaReceiver.Unload(pins);
        foreach (var cgroup in Bpf.Cgroup.RootGroup.Children().Where(c => Stale(c.Path) && c.Processes().Count == 0))
            cgroup.Remove();
        return true;
    }

    public void Dispose()
    {
        _network.Dispose();
        if (!_unloaded)
            ToaReceiver.Unload(PinDirectory);
        CgroupCleanup.RemoveWhenEmpty(Cgroup);
    }
}

/// <summary>The labs of a test class whose tests need one or several, each with options of its own; disposing disposes them.</summary>
internal sealed class ReceiverLabs : IDisposable
{
    private readonly List<ReceiverLab> _labs = [];

    public ReceiverLab Add(ReceiverOptions? options = null)
    {
        var lab = new ReceiverLab(options);
        _labs.Add(lab);
        return lab;
    }

    public void Dispose()
    {
        foreach (var lab in _labs)
            lab.Dispose();
    }
}
