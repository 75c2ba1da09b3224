// SPDX-License-Identifier: MIT
namespace Toa.Balancer.Relay;

/// <summary>
/// Counts a recurring failure and lets it be logged at most once per interval, with how often it
/// happened since the last time: out of descriptors, a loop would otherwise log on every try.
/// </summary>
internal sealed class WarningThrottle(TimeProvider time, TimeSpan interval)
{
    private readonly Lock _gate = new();
    private long _pending;
    private long _lastWarned;
    private bool _warned;

    /// <summary>Counts one occurrence; returns the occurrences to report now (this one included), or 0 to stay quiet.</summary>
    public long Count()
    {
        lock (_gate)
        {
            _pending++;
            var now = time.GetTimestamp();
            if (_warned && time.GetElapsedTime(_lastWarned, now) < interval)
                return 0;
            _warned = true;
            _lastWarned = now;
            var count = _pending;
            _pending = 0;
            return count;
        }
    }
}
