// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Toa.Bpf;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Balancer;

/// <summary>
/// A <see cref="BalancerFixture"/> whose balancer runs packet listeners (<c>"engine": "packet"</c>),
/// in a namespace that forwards both families, as the engine requires. Every sender's veth (the clients' and the server's) has transmit checksumming off, so segments
/// leave them with complete checksums, as real NICs deliver them, and a checksum tcpdump reads past
/// the balancer is the one the balancer's rewriting left. Disposing also removes the engine's pinned
/// maps, which outlive the balancer (a restarted one takes its connections over) and its namespace.
/// </summary>
public abstract class PacketFixture : BalancerFixture
{
    /// <summary>The first of the engine's local ports by default ("localPorts": "61000-65535"); the balancer's own connections (health checks) use others.</summary>
    public const int FirstEnginePort = 61000;

    private const string Ethtool = "/usr/sbin/ethtool";
    private string? _pins;

    /// <summary>Skips (or fails, when every test must run) where the kernel or ethtool cannot run these tests.</summary>
    public new BalancerLab Require()
    {
        var lab = base.Require();
        ToolTest.Require(Ethtool, "ethtool");
        return lab;
    }

    protected sealed override async Task StartAsync(BalancerLab lab)
    {
        if (!File.Exists(Ethtool))
            return; // Require says so
        _pins = PinDirectory(lab.Hosts.Balancer);
        foreach (var end in new[] { lab.Hosts.ToClient4.A, lab.Hosts.ToClient6.A, lab.Hosts.ToServer.B })
        {
            var result = await end.Host.RunAsync(Ethtool, ["-K", end.Name, "tx", "off"]);
            if (result.ExitCode != 0)
                throw new InvalidOperationException($"ethtool -K {end.Name} tx off in {end.Host.Name}: {result.StandardError}");
        }
        // An operator's step, as the engine requires it: its next hops come from the kernel's FIB,
        // which answers only for interfaces that forward (both families: NAT64 listeners).
        var forwarding = await lab.Hosts.Balancer.RunAsync("sysctl", ["-qw", "net.ipv4.conf.all.forwarding=1", "net.ipv6.conf.all.forwarding=1"]);
        if (forwarding.ExitCode != 0)
            throw new InvalidOperationException($"sysctl in {lab.Hosts.Balancer.Name}: {forwarding.StandardError}");
        await StartPacketAsync(lab);
    }

    /// <summary>Starts the servers and the balancer the tests of the class share.</summary>
    protected abstract Task StartPacketAsync(BalancerLab lab);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_pins is not null && Directory.Exists(_pins))
        {
            Directory.Delete(_pins, recursive: true);
            BpfFs.DeleteEmptyDirectories(Path.GetDirectoryName(_pins)!);
        }
    }

    /// <summary>
    /// Starts <c>toa lb</c> on <paramref name="config"/> and waits until it serves: every packet
    /// listener logged (before the engine is handed them) and then the admin endpoint answering with
    /// them (it starts after the engine applied the configuration, so after the programs are attached).
    /// </summary>
    public static async Task<LabProcess> StartBalancerAsync(BalancerLab lab, string config, int listeners)
    {
        // No proxy listener says " accepting on ": the lab's own wait ends at the first line.
        var balancer = await lab.StartBalancerAsync(config, listeners: 0);
        await balancer.WaitForLineAsync(_ => balancer.Error.Count(l => l.Contains(" runs in the packet engine", StringComparison.Ordinal)) == listeners,
            TimeSpan.FromSeconds(60));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60) * LabProcess.Patience;
        while (true)
        {
            if (balancer.HasExited)
                throw new InvalidOperationException($"toa lb exited before serving; it printed:\n{balancer.Transcript}");
            var status = await lab.ToaAsync("lb", "status", "--json", "--admin", AdminSocket(lab));
            if (status.ExitCode == 0 && JsonDocument.Parse(status.StandardOutput).RootElement.GetProperty("listeners").GetArrayLength() == listeners)
                return balancer;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"toa lb's admin endpoint never listed {listeners} listeners: {status.StandardError}; it printed:\n{balancer.Transcript}");
            await Task.Delay(100);
        }
    }

    /// <summary>The lab balancer's admin socket (BalancerLab puts it beside the configuration).</summary>
    public static string AdminSocket(BalancerLab lab) => Path.Combine(Path.GetDirectoryName(lab.ConfigPath)!, "lb.sock");

    /// <summary>Where the engine pins its maps for a balancer in <paramref name="host"/>: bpffs is one for every namespace.</summary>
    public static string PinDirectory(Host host) => $"/sys/fs/bpf/toa/fullnat/{host.NamespaceInode}";

    /// <summary>A packet listener's JSON: <c>"engine": "packet"</c>, the address, TOA, backends and any <paramref name="more"/> members.</summary>
    public static string Listener(string name, IPEndPoint address, string toa, IEnumerable<IPEndPoint> backends, string more = "") =>
        $$"""{ "name": "{{name}}", "engine": "packet", "address": "{{address}}", "toa": "{{toa}}", {{more}}{{(more.Length > 0 ? ", " : "")}}"backends": [ {{string.Join(", ", backends.Select(b => $"{{ \"address\": \"{b}\" }}"))}} ] }""";

    /// <summary>A configuration of <paramref name="listeners"/> (JSON objects) with a short shutdown.</summary>
    public static string Config(params string[] listeners) => $$"""
        { "shutdownTimeout": "2s", "listeners": [ {{string.Join(",\n", listeners)}} ] }
        """;
}

/// <summary>What the packet engine's tests share: transfers, status, the balancer's sockets.</summary>
public static class PacketLab
{
    /// <summary>Bytes from a seeded generator, the same for a seed on every run.</summary>
    public static byte[] Data(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Everything the peer sends until it closes.</summary>
    public static async Task<byte[]> ReadAllAsync(Socket socket)
    {
        using var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await socket.ReceiveAsync(buffer)) > 0)
            all.Write(buffer, 0, n);
        return all.ToArray();
    }

    /// <summary>
    /// Sends <paramref name="data"/> through an echo behind the balancer on <paramref name="socket"/>:
    /// its first half, then <paramref name="meanwhile"/> (a drain, a reload), then the rest; half-closes
    /// and asserts that the echo came back whole and unchanged.
    /// </summary>
    public static async Task TransferIntactAsync(Socket socket, byte[] data, Func<Task> meanwhile)
    {
        var echoed = ReadAllAsync(socket);
        await socket.SendAsync(data.AsMemory(0, data.Length / 2));
        await meanwhile();
        await socket.SendAsync(data.AsMemory(data.Length / 2));
        socket.Shutdown(SocketShutdown.Send);
        var received = await echoed.WaitAsync(TimeSpan.FromSeconds(120) * LabProcess.Patience);
        Assert.Equal(data.Length, received.Length);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(received));
    }

    /// <summary><c>toa lb COMMAND ARGS</c> (drain, enable, reload) through the lab balancer's own admin socket.</summary>
    public static Task<ProcessResult> CommandAsync(BalancerLab lab, params string[] args) =>
        lab.ToaAsync(["lb", .. args, "--admin", PacketFixture.AdminSocket(lab)]);

    /// <summary><c>toa lb status --json</c>'s listener <paramref name="name"/>.</summary>
    public static async Task<JsonElement> ListenerStatusAsync(BalancerLab lab, string name)
    {
        var result = await lab.ToaAsync("lb", "status", "--json");
        Assert.True(result.ExitCode == 0, result.StandardError);
        using var status = JsonDocument.Parse(result.StandardOutput);
        return status.RootElement.GetProperty("listeners").EnumerateArray().Single(l => l.GetProperty("name").GetString() == name).Clone();
    }

    /// <summary>A listener's backends by address: their status and the connections sent to each.</summary>
    public static async Task<Dictionary<string, (string Status, long Total)>> BackendsAsync(BalancerLab lab, string listener) =>
        (await ListenerStatusAsync(lab, listener)).GetProperty("backends").EnumerateArray()
            .ToDictionary(b => b.GetProperty("address").GetString()!,
                b => (b.GetProperty("status").GetString()!, b.GetProperty("totalConnections").GetInt64()));

    /// <summary>Asks <c>toa lb status</c> until <paramref name="condition"/> holds for the listener's backends.</summary>
    public static async Task<Dictionary<string, (string Status, long Total)>> WaitForBackendsAsync(
        BalancerLab lab, string listener, Func<Dictionary<string, (string Status, long Total)>, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60) * LabProcess.Patience;
        while (true)
        {
            var backends = await BackendsAsync(lab, listener);
            if (condition(backends))
                return backends;
            Assert.True(DateTime.UtcNow < deadline, $"{listener}'s backends never got there: {string.Join(", ", backends)}");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// The TCP sockets of <paramref name="host"/> as <c>ss -tan</c> lists them (every state, listeners
    /// included): one line each, after the header.
    /// </summary>
    public static async Task<IReadOnlyList<string>> SocketsAsync(Host host)
    {
        var result = await host.RunAsync("ss", ["-tanH"]);
        Assert.True(result.ExitCode == 0, result.StandardError);
        return result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>How tcpdump -v prints a TOA of <paramref name="kind"/>: port then address, in hex.</summary>
    public static string ToaText(int kind, IPEndPoint client) =>
        $"unknown-{kind} 0x{client.Port:x4}{Convert.ToHexStringLower(client.Address.GetAddressBytes())}";

    /// <summary>Whether a tcpdump -vv line shows a checksum tcpdump found wrong (IP header or TCP).</summary>
    public static bool BadChecksum(string packet) =>
        packet.Contains("incorrect", StringComparison.Ordinal) || packet.Contains("bad cksum", StringComparison.Ordinal);
}
