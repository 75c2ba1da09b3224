// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using Toa.Receiver;

namespace Toa.Cli.Stats;

/// <summary>One counter in a live view: its total and how fast it moved since the previous reading.</summary>
internal sealed record CounterRate(string Name, ulong Total, double PerSecond);

/// <summary>What a live view shows once per interval.</summary>
internal sealed record StatsFrame(DateTimeOffset Time, TimeSpan Elapsed, IReadOnlyList<CounterRate> Counters);

/// <summary>Turns readings of the counters, one per interval, into per-second rates.</summary>
internal static class CounterWatch
{
    /// <summary>
    /// Each counter of <paramref name="current"/> with its rate since <paramref name="previous"/>. A total
    /// below the previous one means the receiver was unloaded and loaded again (its counters restarted
    /// at zero): the rate counts from zero then, as Prometheus' rate() does.
    /// </summary>
    public static IReadOnlyList<CounterRate> Rates(ReceiverCounters previous, ReceiverCounters current, TimeSpan elapsed)
    {
        var before = previous.Counters.ToDictionary(c => c.Name, c => c.Total, StringComparer.Ordinal);
        return current.Counters.Select(c =>
        {
            var total = c.Total;
            var was = before.GetValueOrDefault(c.Name);
            var moved = total >= was ? total - was : total;
            return new CounterRate(c.Name, total, elapsed > TimeSpan.Zero ? moved / elapsed.TotalSeconds : 0);
        }).ToArray();
    }

    /// <summary>A frame every <paramref name="interval"/> until <paramref name="cancel"/> (Ctrl+C) ends the sequence quietly.</summary>
    public static async IAsyncEnumerable<StatsFrame> Frames(Func<ReceiverCounters> read, TimeSpan interval, TimeProvider time,
        [EnumeratorCancellation] CancellationToken cancel)
    {
        var previous = read();
        var since = time.GetTimestamp();
        using var timer = new PeriodicTimer(interval, time);
        while (await TickAsync(timer, cancel))
        {
            var current = read();
            var now = time.GetTimestamp();
            var elapsed = time.GetElapsedTime(since, now);
            yield return new StatsFrame(time.GetUtcNow(), elapsed, Rates(previous, current, elapsed));
            (previous, since) = (current, now);
        }
    }

    private static async Task<bool> TickAsync(PeriodicTimer timer, CancellationToken cancel)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancel);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
