// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toa.Balancer.Configuration;
using Toa.Sender;

namespace Toa.Balancer.Sender;

/// <summary>
/// The balancer's TOA writer: the eBPF sender (<see cref="ToaSender"/>) behind <see cref="IToaWriter"/>.
/// Each backend connection gets one option, built from the address the balancer accepted, in the
/// handshake ACK and the first data segment (and the SYN when the listener says <c>toaOnSyn</c>).
/// <see cref="ReportAsync"/> is true only when every placement settled by then (SYN, handshake ACK)
/// carried it and none was refused; each failure is logged as well as counted by the relay.
/// </summary>
/// <remarks>
/// Starting it moves the whole process into a cgroup of its own (programs see sockets by the
/// cgroup that created them): start it before the balancer creates backend sockets, that is
/// before the host starts, and dispose it after the host stopped.
/// </remarks>
public sealed partial class SenderToaWriter : IToaWriter, IDisposable
{
    /// <summary>
    /// connect() completes when the kernel has processed the SYN-ACK, a moment before it sends
    /// the handshake ACK; how long to wait for that ACK before calling it missing, and how often
    /// to look meanwhile.
    /// </summary>
    private static readonly TimeSpan s_ackWait = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan s_ackPoll = TimeSpan.FromMilliseconds(1);

    private readonly ToaSender _sender;
    private readonly ILogger _logger;

    private SenderToaWriter(ToaSender sender, ILogger logger)
    {
        _sender = sender;
        _logger = logger;
    }

    /// <summary>Loads and attaches the sender and moves this process into its cgroup. Needs root.</summary>
    /// <exception cref="Toa.Bpf.BpfException">The program cannot be loaded or attached.</exception>
    public static SenderToaWriter Start(ILoggerFactory? loggerFactory = null)
    {
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Toa.Balancer.Sender");
        return new SenderToaWriter(ToaSender.Start(logger), logger);
    }

    /// <summary>Whether any listener of <paramref name="config"/> writes a TOA (and so needs this writer).</summary>
    public static bool IsNeededFor(BalancerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return (config.Listeners ?? []).Any(l => ToaModes.TryParse(l.Toa ?? ToaModes.Off, out var mode) && mode != ToaMode.Off);
    }

    /// <summary>The cgroup this process runs in while the writer is active.</summary>
    public string CgroupPath => _sender.Cgroup.Path;

    /// <inheritdoc />
    public void Attach(Socket backend, IPEndPoint client, ToaSettings toa) =>
        _sender.Attach(backend, [toa.AddressFor(client)], PlacementFor(toa));

    /// <inheritdoc />
    public async ValueTask<bool> ReportAsync(Socket backend)
    {
        var report = _sender.Report(backend);
        // The first look runs on the relay's event loop; waiting (rare) frees it for other connections.
        for (var started = Stopwatch.GetTimestamp(); AckPending(report) && Stopwatch.GetElapsedTime(started) < s_ackWait; report = _sender.Report(backend))
            await Task.Delay(s_ackPoll).ConfigureAwait(false);
        var missing = Missing(report);
        if (report.Requested != ToaPlacement.None && missing == ToaPlacement.None)
            return true;
        var connection = $"{backend.LocalEndPoint} -> {backend.RemoteEndPoint}";
        if (report.Requested == ToaPlacement.None)
            LogNotAttached(_logger, connection);
        else if ((report.Refused & missing) != 0)
            LogNoRoom(_logger, ToaPlacementNames.Format(report.Refused & missing), connection, report.OptionBytes);
        else
            LogMissing(_logger, ToaPlacementNames.Format(missing), connection);
        return false;
    }

    /// <summary>Moves the process back to its cgroup, detaches the program and removes the sender's cgroup.</summary>
    public void Dispose() => _sender.Dispose();

    /// <summary>Where the option goes: the handshake ACK and first data, and the SYN on request.</summary>
    internal static ToaPlacement PlacementFor(ToaSettings toa) =>
        toa.OnSyn ? ToaPlacement.Default | ToaPlacement.Syn : ToaPlacement.Default;

    /// <summary>
    /// Requested placements that are settled once connect() returned (SYN, handshake ACK) and
    /// went without the option, and any placement refused so far. The first data segment carries
    /// the same options as the handshake ACK (timestamps), so it has room whenever the ACK had.
    /// </summary>
    internal static ToaPlacement Missing(ToaSendReport report) =>
        report.Missing(ToaPlacement.Syn | ToaPlacement.Ack) | (report.Refused & report.Requested);

    private static bool AckPending(ToaSendReport report) =>
        (report.Requested & ~(report.Written | report.Refused) & ToaPlacement.Ack) != 0;

    [LoggerMessage(EventId = 600, EventName = "ToaNoRoom", Level = LogLevel.Warning,
        Message = "No room for {Bytes} bytes of TOA in the {Placements} of {Connection}: the backend gets this connection without its client's address")]
    private static partial void LogNoRoom(ILogger logger, string placements, string connection, int bytes);

    [LoggerMessage(EventId = 601, EventName = "ToaMissing", Level = LogLevel.Warning,
        Message = "The {Placements} of {Connection} went out without the TOA")]
    private static partial void LogMissing(ILogger logger, string placements, string connection);

    [LoggerMessage(EventId = 602, EventName = "ToaNotAttached", Level = LogLevel.Warning,
        Message = "{Connection} has no TOA attached: its socket was created before the writer started")]
    private static partial void LogNotAttached(ILogger logger, string connection);
}
