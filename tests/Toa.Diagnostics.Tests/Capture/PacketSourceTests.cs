// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Diagnostics.Capture;
using Toa.Wire;

namespace Toa.Diagnostics.Tests.Capture;

public sealed class PacketSourceTests : IDisposable
{
    private static readonly IPEndPoint Balancer = new(IPAddress.Parse("10.0.0.1"), 40000);
    private static readonly IPEndPoint Server = new(IPAddress.Parse("10.0.0.2"), 8000);
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"toa-{Guid.NewGuid():N}.pcap");

    public void Dispose() => File.Delete(_file);

    [Fact]
    public void ReadFile_AckWithTencentToa_DecodesClient()
    {
        var options = Convert.FromHexString("0101080a0000000100000002" + "c80810e1cb007107");
        PcapWriter.Write(_file, [PcapWriter.Ipv4Tcp(Balancer, Server, 0x10, options)]);

        var segment = Assert.Single(PacketSource.ReadFile(_file, ToaLayouts.Default));

        Assert.Equal(Balancer, segment.Source);
        Assert.Equal(Server, segment.Destination);
        Assert.Equal(".", segment.Flags);
        Assert.True(segment.MentionsToa);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 4321), segment.Options.Selected!.Value.Client);
    }

    [Fact]
    public void ReadFile_MalformedToaKind_MentionedButNoAddress()
    {
        var options = Convert.FromHexString("fd0c" + "00112233445566778899" + "0000");
        PcapWriter.Write(_file, [PcapWriter.Ipv4Tcp(Balancer, Server, 0x10, options)]);

        var segment = Assert.Single(PacketSource.ReadFile(_file, ToaLayouts.Default));

        Assert.True(segment.MentionsToa);
        Assert.Null(segment.Options.Selected);
        Assert.True(segment.Options.HasMalformed);
    }

    [Fact]
    public void ReadFile_PlainSegments_NotMentioningToa()
    {
        var options = Convert.FromHexString("020405b40402080a00000001000000000103030a");
        PcapWriter.Write(_file, [PcapWriter.Ipv4Tcp(Balancer, Server, 0x02, options), PcapWriter.Ipv4Tcp(Server, Balancer, 0x18, [], payload: 5)]);

        var segments = PacketSource.ReadFile(_file, ToaLayouts.Default).ToList();

        Assert.Equal(["S", "P."], segments.Select(s => s.Flags));
        Assert.All(segments, s => Assert.False(s.MentionsToa));
        Assert.Equal(5, segments[1].PayloadLength);
    }

    [Fact]
    public void ReadFile_TruncatedFrame_SkippedWithoutThrowing()
    {
        var frame = PcapWriter.Ipv4Tcp(Balancer, Server, 0x10, Convert.FromHexString("c80810e1cb007107"));
        PcapWriter.Write(_file, [frame[..40], frame]);

        var segments = PacketSource.ReadFile(_file, ToaLayouts.Default).ToList();

        Assert.NotEmpty(segments);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 4321), segments[^1].Options.Selected!.Value.Client);
    }

    [Fact]
    public void ReadFile_NotACapture_SaysSo()
    {
        File.WriteAllText(_file, "hello");

        var error = Assert.Throws<InvalidDataException>(() => PacketSource.ReadFile(_file, ToaLayouts.Default).ToList());
        Assert.Contains(_file, error.Message);
    }
}
