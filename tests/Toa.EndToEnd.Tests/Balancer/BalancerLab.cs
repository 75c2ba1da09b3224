// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Bpf;
using Toa.EndToEnd.Tests.AspNetCore;
using Toa.Lab;
using Toa.Receiver;
using Toa.Sender;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// The TOA guide's picture on one machine: an IPv4 client and an IPv6 client, each in a host of its
/// own, a balancer host running <c>toa lb</c>, and a real server host whose processes run in a
/// cgroup with a receiver of the test's own. Disposing stops the balancer (gracefully, so it
/// removes its own cgroup), kills the rest, unloads the receiver and removes the cgroup, the
/// pins, the namespaces and the configuration, also after a failure.
/// </summary>
public sealed class BalancerLab : IAsyncDisposable
{
    private static int s_counter;
    private readonly DirectoryInfo? _files;
    private readonly List<(LabProcess Process, Cgroup Home)> _balancers = []; // Home: where it started, so where its sender's cgroup is

    public BalancerLab()
    {
        var name = $"toa-lb-test-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}";
        PinDirectory = Path.Combine(BpfFs.DefaultMount, name);
        Hosts = new BalancerNetwork("lb");
        try
        {
            _files = Directory.CreateTempSubdirectory("toa-lb-test-");
            Cgroup = Cgroup.RootGroup.CreateChild(name);
            // The lab's hosts are namespaces the default (the test's own) leaves out.
            string[] namespaces = [.. new[] { Hosts.Client4, Hosts.Client6, Hosts.Balancer, Hosts.Server }.Select(h => h.NamespacePath)];
            ToaReceiver.Load(new ReceiverOptions { Cgroup = Cgroup.Path, PinDirectory = PinDirectory, Namespaces = namespaces }, force: false);
        }
        catch
        {
            DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    /// <summary>The clients, the balancer and the server.</summary>
    public BalancerNetwork Hosts { get; }
    public Cgroup Cgroup { get; } = null!;
    public string PinDirectory { get; }

    /// <summary>The C sample server (IPv4, one connection at a time, forever) in the receiver's cgroup.</summary>
    public async Task<LabProcess> StartCServerAsync(int port)
    {
        var server = Hosts.Server.Start(CSamples.Build("toa_server"), [$"{port}"], Cgroup.Path);
        await server.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        return server;
    }

    /// <summary>The ASP.NET Core sample (GET /whoami, with UseToa) on <paramref name="port"/>, in the receiver's cgroup, with <paramref name="settings"/> on its command line.</summary>
    public Task<LabProcess> StartWhoAmIAsync(int port, params string[] settings) =>
        WhoAmISample.StartAsync(Hosts.Server, Cgroup, PinDirectory, $"http://{Hosts.ServerAddress}:{port}", settings);

    /// <summary>Where <c>toa lb --config</c> reads its configuration.</summary>
    public string ConfigPath => Path.Combine(_files!.FullName, "lb.json");

    /// <summary>
    /// Writes the configuration, starts <c>toa lb</c> in the balancer host (in <paramref name="cgroup"/>,
    /// a directory, when given) and waits until every listener accepts. Its admin socket is the lab's
    /// own unless the configuration names one: the default is shared by every namespace on the machine.
    /// </summary>
    public async Task<LabProcess> StartBalancerAsync(string config, int listeners, string? cgroup = null)
    {
        await WriteConfigAsync(config);
        var command = ToaCli.Command("lb", "--config", ConfigPath);
        var balancer = Hosts.Balancer.Start(command[0], command.Skip(1), cgroup);
        _balancers.Add((balancer, cgroup is null ? Cgroup.OfProcess(Environment.ProcessId) : Cgroup.At(cgroup)));
        await balancer.WaitForLineAsync(_ => balancer.Error.Count(l => l.Contains(" accepting on ", StringComparison.Ordinal)) == listeners,
            TimeSpan.FromSeconds(60));
        return balancer;
    }

    /// <summary>Writes the configuration at <see cref="ConfigPath"/> (a reload), with the lab's admin socket unless it names one.</summary>
    public async Task WriteConfigAsync(string config)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(config, documentOptions: new() { CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true })!.AsObject();
        json.TryAdd("adminSocket", Path.Combine(_files!.FullName, "lb.sock"));
        await File.WriteAllTextAsync(ConfigPath, json.ToJsonString());
    }

    /// <summary>
    /// Runs <c>toa ARGS</c> in the balancer host (lb status, lb drain, ...). <c>lb status</c> asks
    /// the balancer's TCP endpoint in that namespace, which every lab configuration keeps at its default.
    /// </summary>
    public Task<ProcessResult> ToaAsync(params string[] args) =>
        Hosts.Balancer.RunToaAsync("", args is ["lb", "status", ..] && !args.Contains("--admin") ? [.. args, "--admin", "127.0.0.1:9180"] : args);

    /// <summary>
    /// Connects from <paramref name="client"/> (the socket is created inside that host) to
    /// <paramref name="target"/> and returns the connected socket.
    /// </summary>
    public static async Task<Socket> ConnectAsync(Host client, IPEndPoint target)
    {
        var socket = client.Enter(() => new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        try
        {
            await socket.ConnectAsync(target).WaitAsync(TimeSpan.FromSeconds(30));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends a line from <paramref name="client"/> to <paramref name="target"/> (an echo behind the
    /// balancer), half-closes and reads the echo to its end; returns the client's own address.
    /// </summary>
    public static async Task<IPEndPoint> EchoLineAsync(Host client, IPEndPoint target)
    {
        using var socket = await ConnectAsync(client, target);
        var local = (IPEndPoint)socket.LocalEndPoint!;
        await socket.SendAsync("hello\n"u8.ToArray());
        socket.Shutdown(SocketShutdown.Send);
        var echoed = new byte[64];
        var length = 0;
        int n;
        while ((n = await socket.ReceiveAsync(echoed.AsMemory(length)).AsTask().WaitAsync(TimeSpan.FromSeconds(30))) > 0)
            length += n;
        Assert.Equal("hello\n", System.Text.Encoding.ASCII.GetString(echoed, 0, length));
        return local;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (balancer, home) in _balancers)
        {
            try
            {
                await balancer.InterruptAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                // Killed below; its cgroup is left empty and removed here.
                CgroupCleanup.RemoveWhenEmpty(ToaSender.LeftBehind(home, balancer.Id));
            }
        }
        Hosts.Dispose();
        if (Directory.Exists(PinDirectory))
            ToaReceiver.Unload(PinDirectory);
        CgroupCleanup.RemoveWhenEmpty(Cgroup);
        _files?.Delete(recursive: true);
    }
}

/// <summary>
/// A class fixture that owns a <see cref="BalancerLab"/>. Where the kernel cannot run these tests it
/// starts nothing, and each test says why when it calls <see cref="Require"/>.
/// </summary>
public abstract class BalancerFixture : IAsyncLifetime
{
    private BalancerLab? _lab;

    /// <summary>The lab, once started.</summary>
    public BalancerLab Lab => _lab!;

    /// <summary>Skips (or fails, when kernel tests are required) where the kernel cannot run these tests.</summary>
    public BalancerLab Require()
    {
        KernelTest.Require();
        return _lab ?? throw new InvalidOperationException("the topology did not start");
    }

    public async ValueTask InitializeAsync()
    {
        try
        {
            KernelTest.Require();
        }
        catch (Exception)
        {
            return;
        }
        _lab = new BalancerLab();
        await StartAsync(_lab);
    }

    /// <summary>Starts the servers and the balancer the tests of the class share.</summary>
    protected abstract Task StartAsync(BalancerLab lab);

    public virtual async ValueTask DisposeAsync()
    {
        if (_lab is not null)
            await _lab.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
