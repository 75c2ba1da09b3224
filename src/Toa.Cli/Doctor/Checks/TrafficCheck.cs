// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Cli.CommandLine;
using Toa.Diagnostics.Capture;
using Toa.Receiver;
using Toa.Sockets;
using Toa.Wire;

namespace Toa.Cli.Doctor.Checks;

/// <summary>
/// The FAQ's <c>tcpdump</c> step, judged: captures live traffic, and per new connection
/// tells whether a TOA arrived, whether its peer is trusted and its layout honoured, and
/// whether the receiver recorded it (its table, or its counters for connections gone).
/// </summary>
internal sealed class TrafficCheck : IDoctorCheck
{
    // Enough to read; the rest are summed up.
    private const int MostListed = 10;

    public string Name => "traffic";

    public bool NeedsRoot => true;

    public bool AppliesTo(DoctorContext context) => context.CaptureInterface is not null;

    public async Task<IReadOnlyList<Finding>> RunAsync(DoctorContext context, CancellationToken cancel)
    {
        var receiver = context.Receiver;
        var before = receiver is null ? null : ToaReceiver.ReadCounters(context.PinDirectory);
        var (segments, failure) = await CaptureAsync(context, cancel);
        if (failure is not null)
            return [failure];
        var after = receiver is null ? null : ToaReceiver.ReadCounters(context.PinDirectory);
        var table = receiver is null ? [] : ToaReceiver.ReadTable(context.PinDirectory);

        var connections = CapturedConnection.Group(segments, context.Port);
        var judged = connections.Where(c => c.SawSyn).ToList();
        var findings = new List<Finding>();
        var where = $"{(context.Port is { } port ? $"port {port}" : "any port")} on {context.CaptureInterface} in {DurationText.Format(context.CaptureDuration)}";
        if (judged.Count == 0)
        {
            var earlier = connections.Count == 0 ? "" : $" ({connections.Count} begun before the capture: their handshakes, where TOA travels, were missed)";
            findings.Add(new(Name, Severity.Warning, $"no new connection to {where}{earlier}: nothing to judge",
                "make connections through the load balancer while doctor captures, or capture longer (--seconds)"));
            return findings;
        }
        findings.Add(new(Name, Severity.Ok, $"{judged.Count} new connection(s) to {where}"));

        var awaitingRecord = new List<CapturedConnection>();
        var perConnection = judged.Select(c => Judge(context, c, table, awaitingRecord)).OfType<Finding>().ToList();
        findings.AddRange(perConnection.Take(MostListed));
        if (perConnection.Count > MostListed)
        {
            var left = perConnection.Skip(MostListed).ToList();
            findings.Add(new(Name, left.Max(f => f.Severity),
                $"{left.Count} more connection(s) not listed, {left.Count(f => f.Severity == Severity.Problem)} of them with a problem"));
        }
        if (before is not null && after is not null)
            findings.AddRange(JudgeCounters(context, judged, awaitingRecord, before, after));
        return findings;
    }

    private async Task<(List<TcpSegment> Segments, Finding? Failure)> CaptureAsync(DoctorContext context, CancellationToken cancel)
    {
        var filter = context.Port is { } port ? $"tcp port {port}" : "tcp";
        var segments = new List<TcpSegment>();
        using var window = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        try
        {
            // Every layout: a TOA the receiver does not honour is worth naming too.
            await using var packets = PacketSource.Live(context.CaptureInterface!, ToaLayouts.All, filter, window.Token).GetAsyncEnumerator(window.Token);
            // The first MoveNextAsync runs the source up to its first wait: the device is open and capturing when it returns.
            var next = packets.MoveNextAsync();
            await context.Progress.WriteLineAsync(
                $"capturing on {context.CaptureInterface} for {DurationText.Format(context.CaptureDuration)} ({filter}): make connections through the load balancer now");
            window.CancelAfter(context.CaptureDuration);
            while (await next)
            {
                segments.Add(packets.Current);
                next = packets.MoveNextAsync();
            }
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            // The window closed.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return (segments, new(Name, Severity.Problem, $"cannot capture on {context.CaptureInterface}: {e.Message}",
                "check the interface name (ip link) and that libpcap is installed (apt-get install libpcap0.8)"));
        }
        return (segments, null);
    }

    private Finding? Judge(DoctorContext context, CapturedConnection c, IReadOnlyList<ToaConnection> table, List<CapturedConnection> awaitingRecord)
    {
        var who = $"{EndPointText.Format(c.Client)} → {EndPointText.Format(c.Server)}";
        var status = context.Receiver;
        if (c.Toa is not { } toa)
        {
            if (c.Options.FirstOrDefault() is { } bad)
                return new(Name, Severity.Problem,
                    $"{who}: a malformed TOA-kind option in the {bad.Packet} (kind {bad.Option.Kind}, length {bad.Option.Length}: {bad.Option.Problem}); the receiver ignores it (toa_malformed)",
                    "check the load balancer's TOA layout: 200/8 and 253/20 (Tencent), 254/8 and 254/20 (LVS/DPVS)");
            var packets = c.SawData ? "the SYN, the handshake ACK or the first data" : "the SYN or the handshake ACK";
            return new(Name, Severity.Problem,
                $"{who}: packets arrive without TOA (none in {packets}): the load balancer is not inserting it",
                "check the load balancer's listener: TOA switched on, SNAT mode (hybrid cloud) or NAT64; "
                + $"tcpdump -nni {context.CaptureInterface} 'tcp{(context.Port is { } p ? $" port {p}" : "")}' must show unknown-200 or unknown-253 in the options");
        }
        var address = toa.Option.Address!.Value;
        var arrived = $"{who}: TOA {address.Layout.Describe()} {EndPointText.Format(address.Client)} in the {toa.Packet} (tcpdump: {TcpdumpForm(address)})";
        if (status is null)
            return new(Name, Severity.Ok, $"{arrived}; no receiver is loaded to record it");
        if ((status.Formats & address.Layout.AsSet()) == 0)
            return new(Name, Severity.Problem,
                $"{arrived}, a layout the receiver does not honour ({LoadCommandText.Describe(status.Formats)})",
                $"honour it too: {LoadCommandText.Reload(context, status, formats: status.Formats | address.Layout.AsSet())}");
        var peer = c.Client.Address;
        if (status.Trust.Count > 0 && !status.Trust.Any(n => n.Contains(peer)))
        {
            var single = new IPNetwork(peer, peer.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return new(Name, Severity.Problem,
                $"{arrived}, from the untrusted peer {peer}: the receiver ignores it (toa_untrusted) and the server sees {peer}",
                $"if {peer} is your load balancer, trust it (or its network): {LoadCommandText.Reload(context, status, status.Trust.Append(single).Select(n => n.ToString()))}");
        }
        var record = table.FirstOrDefault(r => r.Local.Equals(c.Server) && r.Peer.Equals(c.Client));
        if (record is not null)
            return new(Name, Severity.Ok, $"{arrived}, from a trusted peer; recorded: the server sees {EndPointText.Format(record.Client)}");
        awaitingRecord.Add(c);
        return null;
    }

    // Connections gone before the table was read: the counters' moves during the capture are the evidence.
    private IEnumerable<Finding> JudgeCounters(DoctorContext context, List<CapturedConnection> judged, List<CapturedConnection> awaitingRecord,
        ReceiverCounters before, ReceiverCounters after)
    {
        ulong Moved(string name) => after[name] - before[name];
        var handshakes = judged.Count(c => c.SawHandshakeAck);
        var seen = Moved("syn_recv_sock_toa") + Moved("syn_recv_sock_no_toa");
        if ((ulong)handshakes > seen)
        {
            yield return new(Name, Severity.Problem,
                $"the receiver saw {seen} of the {handshakes} handshakes captured (syn_recv_sock_toa + syn_recv_sock_no_toa): the listening socket is outside its attach point {context.Receiver!.Cgroup}",
                context.ListenerUncovered ? "see the listener check above"
                    : context.Port is null ? "toa doctor --port PORT names the listening process and its cgroup"
                    // The process is inside now, so its socket was made before it moved there.
                    : "the server's process was moved into the attach point after it made its listening socket: restart the server");
            yield break;
        }
        if (awaitingRecord.Count == 0)
            yield break;
        var recorded = Moved("syn_recv_sock_toa") + Moved("toa_from_data");
        var list = string.Join(", ", awaitingRecord.Select(c => EndPointText.Format(c.Client)));
        yield return recorded >= (ulong)awaitingRecord.Count
            ? new(Name, Severity.Ok,
                $"{awaitingRecord.Count} connection(s) with a trusted TOA closed before their records could be read ({list}); the receiver counted {recorded} TOA(s) meanwhile (syn_recv_sock_toa, toa_from_data)")
            : new(Name, Severity.Problem,
                $"the receiver recorded {recorded} TOA(s) for {awaitingRecord.Count} connection(s) that carried a trusted one ({list})",
                "toa stats shows why (toa_malformed, toa_untrusted); a listener started before toa load misses SYN-borne TOAs: restart it");
    }

    // tcpdump prints 200 and 253 as unknown-KIND and the bytes after the length, 254 as exp- and two bytes, 28 as uto.
    private static string TcpdumpForm(ToaAddress address)
    {
        var bytes = address.Encode();
        var hex = Convert.ToHexStringLower(bytes.AsSpan(2));
        return bytes[0] switch
        {
            254 => $"exp-{hex[..4]}",
            28 => "uto, kind 28 read as the user timeout",
            var kind => $"unknown-{kind} 0x{hex}",
        };
    }
}
