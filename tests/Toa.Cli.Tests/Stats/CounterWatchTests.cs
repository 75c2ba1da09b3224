// SPDX-License-Identifier: MIT
using Microsoft.Extensions.Time.Testing;
using Toa.Cli.Stats;
using Toa.Receiver;

namespace Toa.Cli.Tests.Stats;

public class CounterWatchTests
{
    private static ReceiverCounters Counters(ulong toa, ulong noToa) => new(
    [
        new ToaCounter("syn_recv_sock_toa", [toa, 0]),
        new ToaCounter("syn_recv_sock_no_toa", [0, noToa]),
    ]);

    [Fact]
    public void Rates_OverTwoSeconds_HalfTheDifference()
    {
        var rates = CounterWatch.Rates(Counters(10, 4), Counters(16, 4), TimeSpan.FromSeconds(2));

        Assert.Equal([new CounterRate("syn_recv_sock_toa", 16, 3), new CounterRate("syn_recv_sock_no_toa", 4, 0)], rates);
    }

    [Fact]
    public void Rates_CounterWentDown_CountsFromZeroAsAfterAReload()
    {
        var rates = CounterWatch.Rates(Counters(100, 0), Counters(5, 0), TimeSpan.FromSeconds(1));

        Assert.Equal(5, rates[0].PerSecond);
    }

    [Fact]
    public async Task Frames_EachInterval_RatesSinceThePreviousReading()
    {
        var time = new FakeTimeProvider();
        var readings = new Queue<ReceiverCounters>([Counters(0, 0), Counters(5, 1), Counters(35, 1)]);
        using var stop = new CancellationTokenSource();
        // Stepped by hand: the timer exists once the first MoveNextAsync is pending, so each Advance is
        // exactly one interval for exactly one frame.
        var frames = CounterWatch.Frames(readings.Dequeue, TimeSpan.FromSeconds(5), time, stop.Token).GetAsyncEnumerator();
        var seen = new List<StatsFrame>();
        for (var i = 0; i < 2; i++)
        {
            var next = frames.MoveNextAsync();
            time.Advance(TimeSpan.FromSeconds(5));
            Assert.True(await next);
            seen.Add(frames.Current);
        }
        await stop.CancelAsync();
        Assert.False(await frames.MoveNextAsync());

        Assert.Equal([1.0, 6.0], seen.Select(f => f.Counters[0].PerSecond));
        Assert.Equal([35UL, 1UL], seen[1].Counters.Select(c => c.Total));
        Assert.All(seen, f => Assert.Equal(TimeSpan.FromSeconds(5), f.Elapsed));
    }
}
