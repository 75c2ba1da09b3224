// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Toa.EndToEnd.Tests.Receiver;
using Toa.Lab;
using Toa.Receiver;
using Toa.Testing;

// Not the Receiver namespace: nothing here depends on the kernel's version, so the guests skip it.
namespace Toa.EndToEnd.Tests.ReceiverLimits;

/// <summary>
/// SYN-borne TOAs parked while their handshake completes (the toa_parked map): only
/// trusted peers' are parked, and toa_parked_count counts the entries. Hand-made SYNs
/// (scapy) whose handshakes never complete leave their entries in the map to look at.
/// </summary>
public sealed partial class ParkingTests : IDisposable
{
    private const int Port = 8000;
    private const string Toa200 = "c80810e1cb007107"; // 203.0.113.7:4321
    private readonly string _trusted, _untrusted;
    private readonly ReceiverLab _lab;

    public ParkingTests()
    {
        _lab = new ReceiverLab(load: false);
        // Addresses of the link's network that no kernel owns, so nothing resets the hand-made connections.
        var net = string.Join('.', _lab.Link.A.Ipv4.GetAddressBytes()[..3]);
        _trusted = $"{net}.78";
        _untrusted = $"{net}.77";
        ToaReceiver.Load(_lab.Options with { Trust = [IPNetwork.Parse($"{_trusted}/32")] }, force: false);
    }

    public void Dispose() => _lab.Dispose();

    private int ParkedEntries() =>
        JsonDocument.Parse(Shell.Run("bpftool", "-j", "map", "dump", "pinned", Path.Combine(_lab.PinDirectory, "parked")))
            .RootElement.GetArrayLength();

    private ulong ParkedCount()
    {
        var entry = JsonDocument.Parse(Shell.Run("bpftool", "-j", "map", "dump", "pinned", Path.Combine(_lab.PinDirectory, "parked-count")))
            .RootElement[0].GetProperty("value");
        var bytes = entry.EnumerateArray().Take(8).Select(b => byte.Parse(b.GetString()![2..], NumberStyles.HexNumber)).ToArray();
        return BitConverter.ToUInt64(bytes);
    }

    [Fact]
    public async Task Syn_UntrustedPeerAndRetransmittedSyn_OnlyTheTrustedOneParkedAndCountedOnce()
    {
        var clientMac = Mac(_lab.Client, _lab.Link.A.Name);
        foreach (var address in new[] { _trusted, _untrusted })
            _lab.Server.Ip("neigh", "replace", address, "lladdr", clientMac, "dev", _lab.Link.B.Name, "nud", "permanent");
        await _lab.StartCServerAsync($"{Port}");
        var before = _lab.Counters();

        var result = await _lab.Client.RunAsync("/usr/bin/python3", // Debian's, with python3-scapy
            [Path.Combine(CSamples.RepoRoot, "tests", "Toa.EndToEnd.Tests", "Receiver", "syn_exchange.py"), "park", _lab.Link.A.Name,
             clientMac, _lab.ServerAddress().ToString(), Mac(_lab.Server, _lab.Link.B.Name), $"{Port}"],
            $"{_untrusted} 41000 1 {Toa200}\n{_trusted} 41001 2 {Toa200}\n", timeout: TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.StandardError);
        Assert.Equal("ok 41000\nok 41001", result.StandardOutput);
        Assert.Equal(1, ParkedEntries());
        Assert.Equal(1UL, ParkedCount());
        Assert.Equal(new Dictionary<string, ulong> { ["toa_untrusted"] = 1 }, _lab.CountersSince(before));
    }

    private static string Mac(Host host, string device) =>
        MacOf().Match(host.Ip("link", "show", device)).Groups[1].Value;

    [GeneratedRegex(@"link/ether ([0-9a-f:]{17})")]
    private static partial Regex MacOf();
}
