// SPDX-License-Identifier: MIT
using System.Net;
using System.Text.Json;
using Toa.Cli.Capture;
using Toa.Diagnostics.Capture;
using Toa.Wire;

namespace Toa.Cli.Tests.Capture;

public class SegmentTextTests
{
    private static readonly DateTimeOffset Time = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(60);

    private static TcpSegment Segment(string optionsHex, string flags = ".", bool v6 = false) => new(Time,
        new IPEndPoint(IPAddress.Parse(v6 ? "fd00::1" : "10.0.0.1"), 40000),
        new IPEndPoint(IPAddress.Parse(v6 ? "fd00::2" : "10.0.0.2"), 8000),
        flags, 0, TcpOptions.Scan(Convert.FromHexString(optionsHex), ToaLayouts.All));

    [Theory]
    [InlineData("c80810e1cb007107", "200/8 tencent 203.0.113.7:4321")]
    [InlineData("fd1408ae20010db8000000000000000000000007", "253/20 tencent [2001:db8::7]:2222")]
    [InlineData("fe0810e1cb007107", "254/8 dpvs 203.0.113.7:4321")]
    [InlineData("fe1408ae20010db8000000000000000000000007", "254/20 dpvs [2001:db8::7]:2222")]
    [InlineData("1c0701cb007107", "28/7 alibaba-cdn 203.0.113.7")]
    [InlineData("1c130120010db8000000000000000000000007", "28/19 alibaba-cdn 2001:db8::7")]
    [InlineData("fd0810e1cb007107", "253/8 ucloud 203.0.113.7:4321")]
    [InlineData("fd0c00112233445566778899", "253/12 malformed (no-layout-for-length)")]
    [InlineData("1c0702cb007107", "28/7 alibaba-cdn malformed (bad-version)")]
    [InlineData("0101080a0000000100000002c80810e1cb007107", "200/8 tencent 203.0.113.7:4321")]
    public void Line_EachFormat_KindLengthFormatAndClient(string optionsHex, string expected)
    {
        Assert.Equal($"2026-01-02T03:04:05.000006Z 10.0.0.1:40000 > 10.0.0.2:8000 [.] {expected}", SegmentText.Line(Segment(optionsHex)));
    }

    [Fact]
    public void Line_TwoToas_BothSeparatedByCommas()
    {
        var line = SegmentText.Line(Segment("c80810e1cb007107" + "fd1408ae20010db8000000000000000000000007", "S", v6: true));

        Assert.EndsWith("[fd00::1]:40000 > [fd00::2]:8000 [S] 200/8 tencent 203.0.113.7:4321, 253/20 tencent [2001:db8::7]:2222", line);
    }

    [Theory]
    [InlineData("020405b40402080a00000001000000000103030a")] // MSS, SACK-permitted, timestamps, window scale
    [InlineData("1c040064")] // user timeout: kind 28 at its own length
    [InlineData("fe04f989")] // Fast Open under the experimental kind
    public void ToaOptions_NoToaKindAtAToaLength_None(string optionsHex)
    {
        Assert.Empty(SegmentText.ToaOptions(Segment(optionsHex)));
    }

    [Fact]
    public void Json_ToaAndMalformed_OneObjectWithBoth()
    {
        using var json = JsonDocument.Parse(SegmentText.Json(Segment("fe0810e1cb007107" + "fd0c00112233445566778899", "P.")));

        var root = json.RootElement;
        Assert.Equal("2026-01-02T03:04:05.000006Z", root.GetProperty("time").GetString());
        Assert.Equal("10.0.0.1:40000", root.GetProperty("source").GetString());
        Assert.Equal("10.0.0.2:8000", root.GetProperty("destination").GetString());
        Assert.Equal("P.", root.GetProperty("flags").GetString());
        var toa = root.GetProperty("toa").EnumerateArray().ToArray();
        Assert.Equal(2, toa.Length);
        Assert.Equal((254, 8, "dpvs", "203.0.113.7:4321"),
            (toa[0].GetProperty("kind").GetInt32(), toa[0].GetProperty("length").GetInt32(), toa[0].GetProperty("format").GetString(), toa[0].GetProperty("client").GetString()));
        Assert.Equal((253, 12, "no-layout-for-length"),
            (toa[1].GetProperty("kind").GetInt32(), toa[1].GetProperty("length").GetInt32(), toa[1].GetProperty("problem").GetString()));
        Assert.False(toa[1].TryGetProperty("client", out _));
    }
}
