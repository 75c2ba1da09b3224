// SPDX-License-Identifier: MIT
using System.Net;
using Microsoft.Extensions.Time.Testing;
using Toa.Sockets;
using Toa.Testing;
using Toa.Wire;

namespace Toa.Core.Tests.Sockets;

/// <summary>The records pin as a long-running server meets it: opened once, replaced when the receiver restarts, removed.</summary>
public class SystemSocketCallsTests
{
    private const int ENOENT = 2, ENODEV = 19;

    // A record of a NAT64 connection from [2001:db8::7]:2222 through 10.0.0.1:40000.
    private static byte[] Nat64Record()
    {
        var record = new byte[PinnedTestMap.RecordSize];
        IPAddress.Parse("2001:db8::7").GetAddressBytes().CopyTo(record, 0);
        IPAddress.Parse("10.0.0.1").MapToIPv6().GetAddressBytes().CopyTo(record, 16);
        IPAddress.Loopback.MapToIPv6().GetAddressBytes().CopyTo(record, 32);
        record[56] = 0x08; record[57] = 0xae; // client port 2222, network order
        record[62] = (byte)ToaLayout.Tencent6;
        record[63] = (byte)ToaSource.Ack;
        return record;
    }

    [Fact]
    public async Task GetReceiverRecord_ReceiverReplacedBehindPin_ReopensAfterAMissAtMostOncePerInterval()
    {
        KernelTest.Require("root and a bpf filesystem at /sys/fs/bpf");
        var directory = Path.Combine("/sys/fs/bpf", $"toa-core-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var pin = Path.Combine(directory, ReceiverRecords.RecordsPin);
        Directory.CreateDirectory(directory);
        try
        {
            using var pair = await LoopbackPair.CreateAsync();
            var time = new FakeTimeProvider();
            using var calls = new SystemSocketCalls(directory, time);
            using (PinnedTestMap.Create(pin))
                Assert.Equal(ENOENT, calls.GetReceiverRecord(pair.Accepted, out _)); // opened: the receiver holds nothing

            // The receiver restarts: a new map behind the same pin, holding this connection.
            File.Delete(pin);
            using (var restarted = PinnedTestMap.Create(pin))
                restarted.Put((int)pair.Accepted.Handle, Nat64Record());

            time.Advance(SystemSocketCalls.RecheckInterval / 2);
            Assert.Equal(ENOENT, calls.GetReceiverRecord(pair.Accepted, out _)); // not looked at again yet
            time.Advance(SystemSocketCalls.RecheckInterval / 2);
            Assert.Equal(0, calls.GetReceiverRecord(pair.Accepted, out var record)); // the miss looked again
            Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 2222), record!.Client);
            Assert.Equal(0, calls.GetReceiverRecord(pair.Accepted, out _));

            // The receiver is unloaded: once looked at again, no receiver of ours is in sight.
            File.Delete(pin);
            time.Advance(SystemSocketCalls.RecheckInterval);
            Assert.Equal(0, calls.GetReceiverRecord(pair.Accepted, out _)); // a found record never looks
            using var other = await LoopbackPair.CreateAsync();
            Assert.Equal(ENODEV, calls.GetReceiverRecord(other.Accepted, out _));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
