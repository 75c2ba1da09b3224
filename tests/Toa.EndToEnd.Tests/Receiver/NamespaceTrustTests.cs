// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Bpf;
using Toa.Lab;
using Toa.Receiver;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>
/// One receiver serves every network namespace under its cgroup: a TOA is honoured only in
/// the namespaces it was loaded for (toa load --netns), whatever the trust list says.
/// </summary>
public sealed class NamespaceTrustTests : IDisposable
{
    private const int Port = 8000;
    private const string Forged = "203.0.113.7:4321";
    private readonly ReceiverLab _lab = new(load: false);

    public void Dispose() => _lab.Dispose();

    // A C server in `host`, in the receiver's cgroup, serving one connection.
    private async Task<LabProcess> StartServerAsync(Host host, int port)
    {
        var server = host.Start(CSamples.Build("toa_server"), ["-n", "1", $"{port}"], _lab.Cgroup.Path);
        await server.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        return server;
    }

    // `toa connect` from `from` to `to`'s server, claiming the forged client; what the server printed.
    private static async Task<IReadOnlyList<string>> ForgeAsync(Host from, IPAddress to, int port, LabProcess server)
    {
        var result = await from.RunToaAsync("hello\n", ["connect", $"{to}:{port}", "--as", Forged]);
        Assert.True(result.ExitCode == 0, result.StandardError);
        await server.WaitForLineAsync(l => l == "closed", TimeSpan.FromSeconds(30));
        return server.Output;
    }

    [Fact]
    public async Task Load_ForgedToaToANamespaceNotHonoured_ServerSeesTheWirePeerAndItIsCounted()
    {
        // Both hosts' addresses are trusted: only the namespace tells the two servers apart.
        var options = _lab.Options with { Trust = [IPNetwork.Parse("10.200.0.0/16")], Namespaces = [_lab.Server.NamespacePath] };
        ToaReceiver.Load(options, force: false);
        Assert.Equal([NetworkNamespace.Of(_lab.Server.NamespacePath)], ToaReceiver.Status(_lab.PinDirectory)!.Namespaces);
        var honoured = await StartServerAsync(_lab.Server, Port);
        var foreign = await StartServerAsync(_lab.Client, Port);
        var before = _lab.Counters();

        var toHonoured = await ForgeAsync(_lab.Client, _lab.Link.B.Ipv4, Port, honoured);
        var toForeign = await ForgeAsync(_lab.Server, _lab.Link.A.Ipv4, Port, foreign);

        Assert.Contains($"accepted v4 [{Forged.Replace(":", "]:")}", toHonoured);
        Assert.Contains(toForeign, l => l.StartsWith($"accepted v4 [{_lab.Link.B.Ipv4}]:", StringComparison.Ordinal));
        Assert.Contains(toForeign, l => l.StartsWith($"real client v4 [{_lab.Link.B.Ipv4}]:", StringComparison.Ordinal));
        var moved = _lab.CountersSince(before);
        Assert.Equal(1UL, moved.GetValueOrDefault("toa_foreign_netns"));
        Assert.Equal(1UL, moved.GetValueOrDefault("syn_recv_sock_toa"));
        Assert.False(moved.ContainsKey("toa_untrusted"));

        // Every namespace (--netns all), swapped in with --force: the same claim is believed there too.
        ToaReceiver.Load(options with { Namespaces = null }, force: true);
        Assert.Null(ToaReceiver.Status(_lab.PinDirectory)!.Namespaces);
        var again = await StartServerAsync(_lab.Client, Port + 1);

        Assert.Contains($"accepted v4 [{Forged.Replace(":", "]:")}", await ForgeAsync(_lab.Server, _lab.Link.A.Ipv4, Port + 1, again));
    }
}
