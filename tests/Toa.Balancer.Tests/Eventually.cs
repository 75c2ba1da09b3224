// SPDX-License-Identifier: MIT
namespace Toa.Balancer.Tests;

/// <summary>
/// Waits for a condition that background work makes true. The limit is generous and only
/// turns a hang into a failure; no test asserts how fast anything happens.
/// </summary>
internal static class Eventually
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    public static async Task True(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(2);
        }
    }
}
