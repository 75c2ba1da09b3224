// SPDX-License-Identifier: MIT
using System.Net;
using System.Text.RegularExpressions;
using Toa.EndToEnd.Tests.Receiver;
using Toa.Lab;
using Toa.Receiver;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Reliability;

/// <summary>
/// The hostile corpus: hand-made exchanges (<c>hostile.py</c>, scapy) played one after the
/// other against one receiver and one C sample server (<c>toa_server -d</c>, which reads
/// before it asks, as servers whose client speaks first do). For each: what the server
/// saw, and exactly which counters moved. Never a wrong address, never a failed receiver.
/// </summary>
// One at a time: the stress run loads the machine enough to delay the corpus's exchanges past their waits.
[Collection("Reliability")]
public sealed partial class HostileCorpusTests : IDisposable
{
    private const int Port = 8000, FirstSourcePort = 41000;
    private const string T4 = "c808 10e1 cb007107";                                // 200/8 203.0.113.7:4321
    private const string T4b = "c808 03e7 c6336409";                               // 200/8 198.51.100.9:999
    private const string T6 = "fd14 08ae 20010db8000000000000000000000007";       // 253/20 [2001:db8::7]:2222
    private const string T6b = "fd14 0007 20010db8000000000000000000000099";      // 253/20 [2001:db8::99]:7
    private const string Nop = "01";
    private static readonly IPEndPoint Client4 = IPEndPoint.Parse("203.0.113.7:4321"), Client4b = IPEndPoint.Parse("198.51.100.9:999");
    private static readonly IPEndPoint Client6 = IPEndPoint.Parse("[2001:db8::7]:2222"), Client6b = IPEndPoint.Parse("[2001:db8::99]:7");

    private readonly ReceiverLab _lab;
    private readonly string _trusted, _untrusted;

    public HostileCorpusTests()
    {
        _lab = new ReceiverLab(load: false);
        // Source addresses in the link's subnet that no kernel owns, so nothing resets the hand-made
        // connections; one trusted, one not.
        var subnet = $"10.200.{_lab.Link.A.Ipv4.GetAddressBytes()[2]}";
        _trusted = $"{subnet}.77";
        _untrusted = $"{subnet}.78";
        ToaReceiver.Load(_lab.Options with { Trust = [IPNetwork.Parse($"{_trusted}/32")] }, force: false);
    }

    public void Dispose() => _lab.Dispose();

    /// <summary>
    /// One exchange. <paramref name="Steps"/> as <c>hostile.py</c> reads them; <paramref name="Seen"/>
    /// is what the server must see (null: the true peer; not accepted when <paramref name="Accepted"/>
    /// is false); <paramref name="Moved"/> every counter that must move, by how much (short names).
    /// </summary>
    public sealed record Case(string Name, string Steps, IPEndPoint? Seen, string Moved, bool Accepted = true,
        bool Untrusted = false, bool SameTupleAsBefore = false, bool Reset = false)
    {
        public override string ToString() => Name;
    }

    // Short names for the counters; what each counts is in docs/receiver.md.
    private static readonly Dictionary<string, string> s_counterNames = new()
    {
        ["toa"] = "syn_recv_sock_toa", ["no_toa"] = "syn_recv_sock_no_toa", ["ok"] = "getname_toa_ok",
        ["mismatch"] = "getname_toa_mismatch", ["empty"] = "getname_toa_empty", ["alloc"] = "ip6_address_alloc",
        ["free"] = "ip6_address_free", ["from_syn"] = "toa_from_syn", ["from_data"] = "toa_from_data",
        ["malformed"] = "toa_malformed", ["untrusted"] = "toa_untrusted", ["bypass"] = "getname_toa_bypass",
    };

    // What the server's calls move for a client taken in the handshake: accept(), then getsockopt 4096, then getpeername().
    private const string V4 = "toa=1 ok=2 mismatch=1", V6 = "toa=1 ok=1 bypass=1 alloc=1 free=1";
    // ... taken from the first data, after accept() (which found nothing yet).
    private const string V4Data = "no_toa=1 from_data=1 ok=1 mismatch=1", V6Data = "no_toa=1 from_data=1 ok=1 alloc=1 free=1";
    private const string Nothing = "no_toa=1 empty=1";

    /// <summary>An options block of <paramref name="length"/> bytes (NOPs, then a 200/8 where it fits) and what it gives.</summary>
    private static Case Length(int length) => length >= 8
        ? new($"{length} bytes: {length - 8} NOPs then 200/8", $"S:;A:{Repeat(Nop, length - 8)}{T4};P;D:;F:", Client4, V4)
        : new($"{length} bytes: NOPs only", $"S:;A:{Repeat(Nop, length)};P;D:;F:", null, Nothing);

    /// <summary>A TOA kind with a length no layout has: malformed for the dedicated kinds, someone else's option for shared ones.</summary>
    private static Case WrongLength(int kind, int length, bool malformed)
    {
        var body = Convert.ToHexString(Enumerable.Range(0, length - 2).Select(i => (byte)(0x10 + i)).ToArray());
        return new($"kind {kind} length {length}", $"S:;A:{kind:x2}{length:x2}{body};P;D:;F:", null,
            malformed ? "no_toa=1 malformed=1 empty=1" : Nothing);
    }

    private static string Repeat(string hex, int count) => string.Concat(Enumerable.Repeat(hex, count));

    public static readonly Case[] Corpus =
    [
        // RST and FIN.
        // Reset: getpeername() then fails (ENOTCONN), and nothing was taken from the RST.
        new("TOA on a RST after a handshake without", $"S:;A:;P;R:{T4}", null, Nothing, Reset: true),
        new("TOA on a RST instead of the handshake ACK", $"S:;R:{T4}", null, "", Accepted: false),
        new("TOA in the SYN, then a RST", $"S:{T4};R:", null, "", Accepted: false),
        // A FIN before any data is the first segment after the handshake: its TOA counts as data-borne (DPVS writes it there too).
        new("TOA on a FIN-only segment after a handshake without", $"S:;A:;P;F:{T4}", Client4, V4Data),
        new("TOA on the FIN after data without", $"S:;A:;P;D:;F:{T4}", null, Nothing),
        // Repeated in later segments with other addresses: the first one decides.
        new("ACK 200/8, data another 200/8", $"S:;A:{T4};P;D:{T4b};F:{T4b}", Client4, V4),
        new("ACK 200/8, a later pure ACK and data with another", $"S:;A:{T4};P;N:{T4b};D:{T4b};F:", Client4, V4),
        new("ACK 253/20, data another 253/20", $"S:;A:{T6};P;D:{T6b};F:", Client6, V6),
        new("data 200/8, second data another", $"S:;A:;P;D:{T4};D:{T4b};F:", Client4, V4Data),
        new("data 200/8, FIN another", $"S:;A:;P;D:{T4};F:{T4b}", Client4, V4Data),
        new("data 253/20, second data 200/8", $"S:;A:;P;D:{T6};D:{T4};F:", Client6, V6Data),
        // A retransmitted SYN with a different TOA: the SYN-ACK sent again reads no SYN, the first SYN's stays.
        new("SYN 200/8, the same SYN again with another", $"S:{T4};s:{T4b};A:;P;D:;F:", Client4, V4 + " from_syn=1"),
        new("SYN without, the same SYN again with 200/8", $"S:;s:{T4};A:;P;D:;F:", null, Nothing),
        new("SYN 200/8 only", $"S:{T4};A:;P;D:;F:", Client4, V4 + " from_syn=1"),
        new("SYN 253/20 only", $"S:{T6};A:;P;D:;F:", Client6, V6 + " from_syn=1"),
        // SYN, ACK and data disagreeing: the ACK first, then the SYN, then the first data.
        new("SYN 200/8, ACK another, data 253/20", $"S:{T4};A:{T4b};P;D:{T6};F:", Client4b, V4),
        new("SYN 253/20, ACK without, data 200/8", $"S:{T6};A:;P;D:{T4};F:", Client6, V6 + " from_syn=1"),
        new("SYN without, ACK 253/20, data 200/8", $"S:;A:{T6};P;D:{T4};F:", Client6, V6),
        new("SYN 200/8, ACK 253/20", $"S:{T4};A:{T6};P;D:;F:", Client6, V6),
        new("SYN malformed, ACK 200/8", $"S:c801;A:{T4};P;D:;F:", Client4, V4 + " malformed=1"),
        new("SYN 200/8, ACK with two TOAs (malformed), data another", $"S:{T4};A:{T4}{T4b};P;D:{T4b};F:", Client4, V4 + " from_syn=1 malformed=1"),
        // A malformed ACK gives nothing; the first data is still waited for.
        new("ACK malformed, data 200/8", $"S:;A:c800;P;D:{T4};F:", Client4, V4Data + " malformed=1"),
        // Segments the connection does not take as its first data.
        new("data 200/8 out of order, then data without", $"S:;A:;P;O:{T4};D:;F:", null, Nothing),
        new("an ACK of the wrong sequence with 200/8, then the true ACK", $"S:;B:{T4};A:;P;D:;F:", null, Nothing),
        // Every length an options block can have (a header grows by 4 bytes).
        .. Enumerable.Range(0, 11).Select(i => Length(4 * i)),
        new("200/8 then end-of-list padding", $"S:;A:{T4}00000000;P;D:;F:", Client4, V4),
        new("an odd block: 3 NOPs, 200/8, one byte of end-of-list", $"S:;A:010101{T4}00;P;D:;F:", Client4, V4),
        // Every wrong kind/length pair of the known layouts (200/8, 253/20, 254/8, 254/20, 28/7, 28/19, 253/8).
        .. new[] { 2, 4, 7, 9, 12, 20 }.Select(l => WrongLength(200, l, malformed: true)),
        .. new[] { 2, 7, 9, 19, 21 }.Select(l => WrongLength(253, l, malformed: true)),
        .. new[] { 2, 7, 9, 19, 21 }.Select(l => WrongLength(254, l, malformed: false)),
        .. new[] { 6, 8, 18, 20 }.Select(l => WrongLength(28, l, malformed: false)),
        // Layouts not honoured by default.
        new("253/8 (UCloud)", "S:;A:fd0810e1cb007107;P;D:;F:", null, Nothing),
        new("28/7 (Alibaba CDN)", "S:;A:1c0701cb007107;P;D:;F:", null, Nothing),
        // Untrusted peers: neither the ACK's nor the SYN's TOA is used.
        new("untrusted: ACK 200/8", $"S:;A:{T4};P;D:;F:", null, "no_toa=1 untrusted=1 empty=1", Untrusted: true),
        new("untrusted: data 253/20", $"S:;A:;P;D:{T6};F:", null, "no_toa=1 untrusted=1 empty=1", Untrusted: true),
        // A 4-tuple used again right after the connection closed: nothing of the first is inherited.
        new("4-tuple reuse: first SYN 200/8", $"S:{T4};A:;P;D:;F:", Client4, V4 + " from_syn=1"),
        new("4-tuple reuse: again, no TOA", "S:;A:;P;D:;F:", null, Nothing, SameTupleAsBefore: true),
        new("4-tuple reuse: again, SYN another 200/8", $"S:{T4b};A:;P;D:;F:", Client4b, V4 + " from_syn=1", SameTupleAsBefore: true),
        new("4-tuple reuse: again, ACK 253/20", $"S:;A:{T6};P;D:;F:", Client6, V6, SameTupleAsBefore: true),
    ];

    [Fact]
    public async Task HostileExchanges_Corpus_ServerSeesTheRightAddressAndCountersMoveAsStated()
    {
        Assert.True(Corpus.Length >= 40, $"{Corpus.Length} cases");
        await PlayAsync(Corpus);
    }

    private async Task PlayAsync(Case[] corpus)
    {
        var clientMac = Mac(_lab.Client, _lab.Link.A.Name);
        foreach (var source in new[] { _trusted, _untrusted })
            _lab.Server.Ip("neigh", "replace", source, "lladdr", clientMac, "dev", _lab.Link.B.Name, "nud", "permanent");
        var accepted = corpus.Count(c => c.Accepted);
        var server = await _lab.StartCServerAsync("-d", "-n", $"{accepted}", $"{Port}");
        var player = _lab.Client.Start("/usr/bin/python3", // Debian's, with python3-scapy
            [Path.Combine(CSamples.RepoRoot, "tests", "Toa.EndToEnd.Tests", "Reliability", "hostile.py"), _lab.Link.A.Name, clientMac,
             _lab.ServerAddress().ToString(), Mac(_lab.Server, _lab.Link.B.Name), $"{Port}"]);
        var failures = new List<string>();
        int port = FirstSourcePort, isn = 1000, played = 0, closed = 0;

        foreach (var c in corpus)
        {
            if (c.SameTupleAsBefore)
                isn += 100_000;
            else
                (port, isn) = (port + 1, 1000);
            var source = c.Untrusted ? _untrusted : _trusted;
            var before = _lab.Counters();
            var firstLine = server.Output.Count;
            player.StandardInput.WriteLine($"{source} {port} {isn} {c.Steps.Replace(" ", "", StringComparison.Ordinal)}");
            player.StandardInput.Flush();
            played++;
            if (c.Steps.Contains(";P", StringComparison.Ordinal))
            {
                await player.WaitForLineAsync(l => l == $"paused {port}", TimeSpan.FromSeconds(20));
                await server.WaitForLineAsync(_ => server.Output.Skip(firstLine).Any(l => l.StartsWith("accepted", StringComparison.Ordinal)), TimeSpan.FromSeconds(60));
                player.StandardInput.WriteLine("go");
                player.StandardInput.Flush();
            }
            var outcome = await player.WaitForLineAsync(l => l == $"ok {port}" || l.StartsWith($"failed {port} ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            if (outcome != $"ok {port}")
                failures.Add($"{c.Name}: {outcome}");
            if (c.Accepted)
            {
                closed++;
                await server.WaitForLineAsync(_ => server.Output.Count(l => l == "closed") >= closed, TimeSpan.FromSeconds(20));
            }
            var lines = server.Output.Skip(firstLine).ToList();
            var truePeer = new IPEndPoint(IPAddress.Parse(source), port);
            Check(c, lines, truePeer, failures);

            var expected = c.Moved.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => p.Split('=')).ToDictionary(p => s_counterNames[p[0]], p => ulong.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
            // Closing connections count later (ip6_address_free): wait for what is expected, then compare all.
            await _lab.WaitForCountersAsync(now => expected.All(e => now[e.Key] - before[e.Key] >= e.Value));
            await Task.Delay(100);
            var moved = _lab.CountersSince(before);
            if (!moved.OrderBy(m => m.Key).SequenceEqual(expected.OrderBy(e => e.Key)))
                failures.Add($"{c.Name}: counters moved {Show(moved)}, expected {Show(expected)}");
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {played} cases:\n{string.Join('\n', failures)}\nserver:\n{server.Transcript}");
        Assert.NotNull(ToaReceiver.Status(_lab.PinDirectory));
        Assert.False(server.HasExited && server.Output.Count(l => l == "closed") < accepted, "the server ended early");
    }

    // The server's lines for one case: the accepted address, then what its lookup ended with.
    private static void Check(Case c, List<string> lines, IPEndPoint truePeer, List<string> failures)
    {
        var acceptedLine = lines.FirstOrDefault(l => l.StartsWith("accepted", StringComparison.Ordinal));
        if (!c.Accepted)
        {
            if (acceptedLine is not null)
                failures.Add($"{c.Name}: accepted ({acceptedLine}), expected no connection");
            return;
        }
        var seen = lines.FirstOrDefault(l => l.StartsWith("real client", StringComparison.Ordinal));
        if (c.Reset)
        {
            if (seen is not null)
                failures.Add($"{c.Name}: the server saw '{seen}' after the reset, expected getpeername() to fail");
            return;
        }
        var want = c.Seen ?? truePeer;
        var wantLine = want.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"real client v6 [{want.Address}]:{want.Port}"
            : $"real client v4 [{want.Address}]:{want.Port}";
        if (seen != wantLine)
            failures.Add($"{c.Name}: the server saw '{seen}', expected '{wantLine}'");
        // accept() ran before the data: the true peer, or a client the handshake carried.
        var acceptedOk = acceptedLine == $"accepted v4 [{truePeer.Address}]:{truePeer.Port}"
            || (want.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && acceptedLine == $"accepted v4 [{want.Address}]:{want.Port}");
        if (!acceptedOk)
            failures.Add($"{c.Name}: accept() gave '{acceptedLine}'");
    }

    private static string Show(IReadOnlyDictionary<string, ulong> counters) =>
        counters.Count == 0 ? "nothing" : string.Join(' ', counters.OrderBy(c => c.Key).Select(c => $"{s_counterNames.First(n => n.Value == c.Key).Key}={c.Value}"));

    private static string Mac(Host host, string device) =>
        MacOf().Match(host.Ip("link", "show", device)).Groups[1].Value;

    [GeneratedRegex(@"link/ether ([0-9a-f:]{17})")]
    private static partial Regex MacOf();
}
