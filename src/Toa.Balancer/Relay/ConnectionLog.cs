// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Net;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Toa.Balancer.Relay;

/// <summary>
/// The connection log, as HAProxy's tcplog: one line per client connection when it ends (or is
/// refused), for listeners whose configuration turns it on. Lines are queued by the event loops
/// and written by one task, so a slow disk or journal never stalls relaying; when the queue is
/// full, lines are dropped and the next line written says how many.
/// </summary>
/// <remarks>
/// A line: <c>2026-12-04T01:20:00.123Z listener=web listen=0.0.0.0:80 client=192.0.2.1:51234
/// backend=10.0.0.1:80 up=5 down=12 duration_ms=3 connect_failures=0 end=client_closed</c>: when the
/// client was accepted (UTC), the listener and its address, the client, the backend (the last one
/// tried, "-" for none), bytes from the client and to it, how long it lasted, how many backend
/// connects failed (each sent the client to another backend, or refused it), and how it ended (<see cref="ConnectionEnd"/>).
/// </remarks>
internal sealed partial class ConnectionLog : IAsyncDisposable
{
    /// <summary>The target that writes to standard output (the journal, under systemd).</summary>
    public const string Stdout = "stdout";

    private const int QueueLength = 64 * 1024;

    private readonly Channel<(string To, ConnectionRecord Record)> _queue = Channel.CreateBounded<(string, ConnectionRecord)>(
        new BoundedChannelOptions(QueueLength) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Dictionary<string, TextWriter?> _targets = new(StringComparer.Ordinal); // null: could not be opened
    private readonly ILogger _logger;
    private readonly Task _writer;
    private long _dropped;

    public ConnectionLog(ILogger logger)
    {
        _logger = logger;
        _writer = Task.Run(WriteAsync);
    }

    /// <summary>Queues the line of a connection that ended; from any thread, never blocking (the writer formats it, not the event loop).</summary>
    public void Write(string to, in ConnectionRecord record)
    {
        if (!_queue.Writer.TryWrite((to, record)))
            Interlocked.Increment(ref _dropped);
    }

    private async Task WriteAsync()
    {
        var touched = new HashSet<TextWriter>();
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var item))
            {
                var writer = Target(item.To);
                if (writer is null)
                    continue;
                if (Interlocked.Exchange(ref _dropped, 0) is var dropped and > 0)
                    writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# {dropped} connection log line(s) dropped: the log could not keep up"));
                writer.WriteLine(item.Record.Format());
                touched.Add(writer);
            }
            foreach (var writer in touched)
                Flush(writer);
            touched.Clear();
        }
    }

    /// <summary>The open target, or null when it cannot be written (lines for it are lost, not the connections).</summary>
    private TextWriter? Target(string to)
    {
        if (_targets.TryGetValue(to, out var writer))
            return writer;
        try
        {
            writer = Open(to);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogUnavailable(_logger, to, e.Message);
        }
        _targets[to] = writer;
        return writer;
    }

    private static void Flush(TextWriter writer)
    {
        try
        {
            writer.Flush();
        }
        catch (IOException)
        {
            // A full disk loses lines, never connections.
        }
    }

    private static TextWriter Open(string to)
    {
        if (to == Stdout)
            return Console.Out;
        // Shared for reading and for rotation (logrotate's copytruncate).
        var stream = new FileStream(to, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        return new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" };
    }

    /// <summary>Writes what is queued and closes the files.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        foreach (var writer in _targets.Values)
        {
            if (writer is not null && writer != Console.Out)
                await writer.DisposeAsync().ConfigureAwait(false);
        }
        _targets.Clear();
    }

    [LoggerMessage(EventId = 320, EventName = "ConnectionLogUnavailable", Level = LogLevel.Error,
        Message = "The connection log {Target} cannot be opened, its lines are lost: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string target, string reason);
}

/// <summary>How a logged connection ended: the words the connection log and its documentation use.</summary>
internal static class ConnectionEnd
{
    /// <summary>The client's FIN came first; both sides finished cleanly.</summary>
    public const string ClientClosed = "client_closed";

    /// <summary>The backend's FIN came first; both sides finished cleanly.</summary>
    public const string BackendClosed = "backend_closed";

    /// <summary>The client reset the connection (or failed), so both sides were reset.</summary>
    public const string ClientReset = "client_reset";

    /// <summary>The backend reset the connection (or failed), so both sides were reset.</summary>
    public const string BackendReset = "backend_reset";

    /// <summary>Nothing moved for the listener's idleTimeout: closed with a FIN both ways.</summary>
    public const string IdleTimeout = "idle_timeout";

    /// <summary>The client sent nothing within firstByteTimeout: reset.</summary>
    public const string FirstByteTimeout = "first_byte_timeout";

    /// <summary>No backend could be connected to (refused, unreachable, reset) after the retries: the client is reset.</summary>
    public const string Refused = "refused";

    /// <summary>The last backend tried did not answer within connectTimeout: the client is reset.</summary>
    public const string ConnectTimeout = "connect_timeout";

    /// <summary>Refused at accept: maxConnections, maxConnectionsPerSource, backends at their limits, or out of descriptors.</summary>
    public const string Limit = "limit";

    /// <summary>Refused at accept: no backend was available (all unhealthy, drained or disabled).</summary>
    public const string NoBackend = "no_backend";

    /// <summary>Reset by the balancer: its backend was disabled, or a shutdown's deadline passed.</summary>
    public const string BalancerReset = "balancer_reset";

    /// <summary>Closed by the balancer with a FIN both ways.</summary>
    public const string BalancerClosed = "balancer_closed";

    /// <summary>The balancer failed unexpectedly (logged as RelayFailed).</summary>
    public const string Error = "error";
}

/// <summary>What the connection log says of one connection.</summary>
internal readonly record struct ConnectionRecord(
    DateTimeOffset Accepted,
    string Listener,
    IPEndPoint Listen,
    IPEndPoint Client,
    string? Backend,
    long BytesUp,
    long BytesDown,
    TimeSpan Duration,
    int ConnectFailures,
    string End)
{
    public string Format() => string.Create(CultureInfo.InvariantCulture,
        $"{Accepted.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.fff'Z'} listener={Listener} listen={Listen} client={Client} backend={Backend ?? "-"} up={BytesUp} down={BytesDown} duration_ms={(long)Duration.TotalMilliseconds} connect_failures={ConnectFailures} end={End}");
}
