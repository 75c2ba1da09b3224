// SPDX-License-Identifier: MIT
using Microsoft.Extensions.Logging.Abstractions;
using Toa.Balancer.Relay;

namespace Toa.Balancer.Tests.Relay;

public class EventLoopTests
{
    [Fact]
    public async Task Post_FromManyThreadsInTurn_EveryItemRuns()
    {
        var loop = new EventLoop(0, NullLogger.Instance);

        // Each poster waits for its item before posting the next, so posts keep landing while
        // the loop is between waking and draining: where a lost wake-up would strand one.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 5000; i++)
            {
                var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                loop.Post(static state => ((TaskCompletionSource)state!).SetResult(), ran);
                await ran.Task.WaitAsync(Eventually.Limit);
            }
        })));
        // Stopping posts too: a loop that missed a wake-up would never stop.
        await Task.Run(loop.Dispose).WaitAsync(Eventually.Limit);
    }

    [Fact]
    public async Task InvokeAsync_RunsOnTheLoopsThread_AndPassesItsException()
    {
        using var loop = new EventLoop(7, NullLogger.Instance);
        string? thread = null;

        await loop.InvokeAsync(() => thread = Thread.CurrentThread.Name);
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => loop.InvokeAsync(() => throw new InvalidOperationException("no")));

        Assert.Equal("toa-relay-7", thread);
        Assert.Equal("no", failure.Message);
    }
}
