// SPDX-License-Identifier: MIT
// What UseToa's record lookup costs a connection, in ns per call, as a server pays it:
//   sudo dotnet run bench/dotnet/lookup-cost.cs [calls per round, default 200000] [rounds, default 5]
// A hash map shaped as the receiver's records is pinned (bpftool) in a directory of its own under
// /sys/fs/bpf; SystemSocketCalls looks up one loopback socket that the map holds (hit) and one it
// does not (miss, the pin not looked at again), then misses that look at the pin every time (a clock
// that jumps a whole interval per call), the most a miss can cost; then the clock read that is all a
// miss adds when it does not look.
#:project ../../src/Toa.Core/Toa.Core.csproj
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Toa.Sockets;

var calls = args.Length > 0 ? int.Parse(args[0]) : 200_000;
var rounds = args.Length > 1 ? int.Parse(args[1]) : 5;
var directory = $"/sys/fs/bpf/toa-bench-{Environment.ProcessId}";
Directory.CreateDirectory(directory);
try
{
    var pin = Path.Combine(directory, ReceiverRecords.RecordsPin);
    Run("bpftool", $"map create {pin} type hash key 4 value 72 entries 16 name records");
    using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    listener.Listen();
    using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    client.Connect(listener.LocalEndPoint!);
    using var held = listener.Accept();
    using var otherClient = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    otherClient.Connect(listener.LocalEndPoint!);
    using var other = listener.Accept();
    var key = string.Join(' ', BitConverter.GetBytes((int)held.Handle).Select(b => b.ToString("x2")));
    Run("bpftool", $"map update pinned {pin} key hex {key} value hex {string.Join(' ', Enumerable.Repeat("00", 72))}");

    using var steady = new SystemSocketCalls(directory);
    using var jumping = new SystemSocketCalls(directory, new JumpingClock());
    Report("hit", () => steady.GetReceiverRecord(held, out _), 0);
    Report("miss", () => steady.GetReceiverRecord(other, out _), 2);
    Report("miss, pin looked at", () => jumping.GetReceiverRecord(other, out _), 2);
    Report("clock read", () => (int)(TimeProvider.System.GetTimestamp() & 0), 0); // what a miss adds when not looking
}
finally
{
    Directory.Delete(directory, recursive: true);
}

void Report(string what, Func<int> call, int expected)
{
    if (call() != expected)
        throw new InvalidOperationException($"{what}: errno {call()}, expected {expected}");
    var perCall = new List<double>();
    for (var r = 0; r < rounds; r++)
    {
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < calls; i++)
            call();
        perCall.Add(Stopwatch.GetElapsedTime(start).TotalNanoseconds / calls);
    }
    perCall.Sort();
    Console.WriteLine($"{what,-22} median {perCall[rounds / 2],7:F0} ns/call (rounds {perCall[0]:F0} to {perCall[^1]:F0})");
}

static void Run(string file, string arguments)
{
    using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true })!;
    process.WaitForExit();
    if (process.ExitCode != 0)
        throw new InvalidOperationException($"{file} {arguments}: exit {process.ExitCode}: {process.StandardError.ReadToEnd()}");
}

// Each reading a whole recheck interval later than the one before.
sealed class JumpingClock : TimeProvider
{
    private long _now;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Add(ref _now, SystemSocketCalls.RecheckInterval.Ticks);
}
