// SPDX-License-Identifier: MIT
using System.Net.Sockets;
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Sender;

/// <summary>
/// <c>toa connect</c> from one host to another; what reaches the server is read
/// by tcpdump and tshark, oracles we did not write. Needs root, BPF, cgroup v2.
/// </summary>
public sealed class ConnectTests() : TwoHostTests("conn")
{
    private const string Tencent4 = "unknown-200 0x10e1cb007107";
    private const string Tencent6 = "unknown-253 0x08ae20010db8000000000000000000000007";

    [Theory]
    [InlineData(AddressFamily.InterNetwork, "203.0.113.7:4321", Tencent4)]
    [InlineData(AddressFamily.InterNetworkV6, "203.0.113.7:4321", Tencent4)]
    [InlineData(AddressFamily.InterNetwork, "[2001:db8::7]:2222", Tencent6)]
    [InlineData(AddressFamily.InterNetworkV6, "[2001:db8::7]:2222", Tencent6)]
    public async Task Connect_Tencent_HandshakeAckCarriesOption(AddressFamily transport, string client, string expected)
    {
        var (result, packets) = await ConnectAsync(transport, "hello\n", "--as", client);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("hello", result.StandardOutput);
        var ack = HandshakeAck(packets);
        Assert.Contains(expected, ack);
        Assert.Contains(expected, FirstData(packets));
        Assert.DoesNotContain("unknown-", Syn(packets));
    }

    [Theory]
    [InlineData("203.0.113.7:4321", "fe0810e1cb007107")]
    [InlineData("[2001:db8::7]:2222", "fe1408ae20010db8000000000000000000000007")]
    public async Task Connect_Dpvs_HandshakeAckCarries254(string client, string optionHex)
    {
        var capture = await Server.CaptureAsync("eth0", "tcp port 8000");
        using (Server.StartEchoServer(Link.B.Ipv4))
        {
            var result = await Client.RunToaAsync("", "connect", $"{Link.B.Ipv4}:8000", "--as", client, "--format", "dpvs");
            Assert.Equal(0, result.ExitCode);
        }
        await capture.StopAsync(PacketCapture.Ended(8000));
        await using var _ = capture;

        // tcpdump shows only the magic of an experimental option; tshark gives the raw bytes.
        var acks = capture.ReadFields("tcp.dstport == 8000 && tcp.flags == 0x010 && tcp.len == 0", "tcp.options");
        Assert.Contains(optionHex, acks[0][0].Replace(":", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Connect_InSyn_FitsNextToMssSackTimestampsWindowScale()
    {
        var (result, packets) = await ConnectAsync(AddressFamily.InterNetwork, "", "--as", "[2001:db8::7]:2222", "--in", "syn");

        Assert.Equal(0, result.ExitCode);
        var syn = Syn(packets);
        Assert.Contains("mss ", syn);
        Assert.Contains("sackOK", syn);
        Assert.Contains("TS val", syn);
        Assert.Contains("wscale", syn);
        Assert.Contains(Tencent6, syn);
        Assert.DoesNotContain("unknown-", HandshakeAck(packets));
    }

    [Fact]
    public async Task Connect_TwoOptionsInSyn_SaysNoRoomAndFails()
    {
        var (result, packets) = await ConnectAsync(AddressFamily.InterNetwork, "",
            "--as", "[2001:db8::7]:2222", "--as", "203.0.113.7:4321", "--in", "syn");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no room for 28 bytes of TOA in the syn", result.StandardError);
        Assert.Contains("Flags [R", packets.Last());
    }

    [Fact]
    public async Task Connect_NoServer_FailsWithSystemReason()
    {
        var result = await Client.RunToaAsync("", "connect", $"{Link.B.Ipv4}:8000", "--as", "203.0.113.7:4321");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("Connection refused", result.StandardError);
        Assert.DoesNotContain("\n", result.StandardError.Trim());
    }

    [Fact]
    public async Task Connect_AfterExit_LeavesNoCgroupBehind()
    {
        var result = await Client.RunToaAsync("", "connect", $"{Link.B.Ipv4}:8000", "--as", "203.0.113.7:4321", "--verbose");

        var cgroup = result.StandardError.Split('\n').Select(l => l.Trim()).First(l => l.Contains("sender attached to", StringComparison.Ordinal));
        var path = cgroup[(cgroup.IndexOf("/sys/", StringComparison.Ordinal))..];
        Assert.False(Directory.Exists(path), $"{path} is still there");
    }

    private async Task<(ProcessResult Result, IReadOnlyList<string> Packets)> ConnectAsync(AddressFamily transport, string input, params string[] args)
    {
        var capture = await Server.CaptureAsync("eth0", "tcp port 8000");
        await using var _ = capture;
        var address = Link.B.Address(transport);
        ProcessResult result;
        using (Server.StartEchoServer(address))
        {
            var target = transport == AddressFamily.InterNetworkV6 ? $"[{address}]:8000" : $"{address}:8000";
            result = await Client.RunToaAsync(input, ["connect", target, .. args]);
        }
        await capture.StopAsync(PacketCapture.Ended(8000));

        return (result, capture.ReadTcpdump().Where(p => p.Contains(" > ", StringComparison.Ordinal)).ToArray());
    }

    private static string Syn(IReadOnlyList<string> packets) => packets.First(p => p.Contains("Flags [S]", StringComparison.Ordinal));

    private static string HandshakeAck(IReadOnlyList<string> packets) =>
        packets.SkipWhile(p => !p.Contains("Flags [S.]", StringComparison.Ordinal)).Skip(1).First();

    private static string FirstData(IReadOnlyList<string> packets) =>
        packets.First(p => p.Contains("Flags [P.]", StringComparison.Ordinal));
}
