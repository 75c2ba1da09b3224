// SPDX-License-Identifier: MIT
using System.Text.RegularExpressions;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>
/// Hand-made packets (scapy) whose handshake ACK carries each options block of
/// <see cref="OptionLayouts"/>: the server never sees a wrong address, the
/// receiver never fails, and the malformed blocks are counted.
/// </summary>
public sealed partial class MalformedOptionTests : IDisposable
{
    private const int Port = 8000, FirstSourcePort = 40000;
    private readonly ReceiverLab _lab = new();

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task HandshakeAck_EveryLayout_ServerSeesTheClaimedClientOrTheTruePeer()
    {
        var layouts = OptionLayouts.All.ToArray();
        // A source address no kernel owns, so nothing resets the hand-made connections.
        var crafted = $"10.200.{_lab.Link.A.Ipv4.GetAddressBytes()[2]}.77";
        var clientMac = Mac(_lab.Client, _lab.Link.A.Name);
        _lab.Server.Ip("neigh", "replace", crafted, "lladdr", clientMac, "dev", _lab.Link.B.Name, "nud", "permanent");
        var server = await _lab.StartCServerAsync("-n", $"{layouts.Length}", $"{Port}");
        var before = _lab.Counters();

        var cases = string.Concat(layouts.Select((l, i) => $"{FirstSourcePort + i} {Convert.ToHexString(l.Bytes)}\n"));
        var result = await _lab.Client.RunAsync("/usr/bin/python3", // Debian's, with python3-scapy
            [Path.Combine(AppContext.BaseDirectory, "Receiver", "craft_options.py"), _lab.Link.A.Name, crafted, clientMac,
             _lab.ServerAddress().ToString(), Mac(_lab.Server, _lab.Link.B.Name), $"{Port}"], cases, timeout: TimeSpan.FromSeconds(120));

        Assert.True(result.ExitCode == 0, result.StandardError);
        Assert.DoesNotContain("failed", result.StandardOutput);
        var accepted = await AcceptedAsync(server, layouts.Length);
        for (var i = 0; i < layouts.Length; i++)
        {
            // An IPv6 client on an AF_INET socket: accept() keeps the true peer, getsockopt 4096 gives it.
            var expected = layouts[i].Client is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetwork } client
                ? $"accepted v4 [{client.Address}]:{client.Port}"
                : $"accepted v4 [{crafted}]:{FirstSourcePort + i}";
            Assert.True(accepted.Remove(expected), $"{layouts[i].Name}: expected '{expected}', the server printed:\n{string.Join('\n', server.Output)}");
        }
        Assert.Empty(accepted);
        Assert.Equal(layouts.Count(l => l.Client?.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6),
            server.Output.Count(l => l == $"real client v6 [{OptionLayouts.Client6.Address}]:{OptionLayouts.Client6.Port}"));
        var moved = _lab.CountersSince(before);
        Assert.Equal((ulong)layouts.Count(l => l.Verdict == OptionVerdict.Malformed), moved.GetValueOrDefault("toa_malformed"));
        Assert.Equal((ulong)layouts.Count(l => l.Verdict == OptionVerdict.Found), moved.GetValueOrDefault("syn_recv_sock_toa"));
        Assert.True(ToaReceiverLoaded());
    }

    private bool ToaReceiverLoaded() => Toa.Receiver.ToaReceiver.Status(_lab.PinDirectory) is not null;

    private static async Task<List<string>> AcceptedAsync(Toa.Lab.LabProcess server, int count)
    {
        await server.WaitForLineAsync(_ => server.Output.Count(l => l == "closed") >= count, TimeSpan.FromSeconds(60));
        return server.Output.Where(l => l.StartsWith("accepted", StringComparison.Ordinal)).ToList();
    }

    private static string Mac(Toa.Lab.Host host, string device) =>
        MacOf().Match(host.Ip("link", "show", device)).Groups[1].Value;

    [GeneratedRegex(@"link/ether ([0-9a-f:]{17})")]
    private static partial Regex MacOf();
}
