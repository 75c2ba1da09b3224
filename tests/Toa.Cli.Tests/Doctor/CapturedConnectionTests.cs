// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Cli.Doctor;
using Toa.Diagnostics.Capture;
using Toa.Wire;

namespace Toa.Cli.Tests.Doctor;

public class CapturedConnectionTests
{
    private static readonly IPEndPoint Balancer = IPEndPoint.Parse("10.0.0.1:40000"), Server = IPEndPoint.Parse("10.0.0.2:8000");
    private const string Toa4 = "c8 08 10e1 cb007107"; // 200/8 203.0.113.7:4321

    private static TcpSegment ToServer(string flags, string options = "", int payload = 0) => Segment(Balancer, Server, flags, options, payload);

    private static TcpSegment Segment(IPEndPoint from, IPEndPoint to, string flags, string options = "", int payload = 0) =>
        new(DateTimeOffset.UnixEpoch, from, to, flags, payload,
            TcpOptions.Scan(Convert.FromHexString(options.Replace(" ", "", StringComparison.Ordinal)), ToaLayouts.All));

    [Fact]
    public void Group_ToaInTheHandshakeAck_OneConnectionWithItsPacketNamed()
    {
        var connections = CapturedConnection.Group(
            [ToServer("S"), Segment(Server, Balancer, "S."), ToServer(".", Toa4), ToServer("P.", Toa4, 6), ToServer("F.")], 8000);

        var c = Assert.Single(connections);
        Assert.Equal(Balancer, c.Client);
        Assert.Equal(Server, c.Server);
        Assert.True(c.SawSyn && c.SawHandshakeAck && c.SawData && c.Closed);
        Assert.Equal("handshake ACK", c.Toa!.Packet);
        Assert.Equal(IPEndPoint.Parse("203.0.113.7:4321"), c.Toa.Option.Address!.Value.Client);
        Assert.Equal(2, c.Options.Count);
    }

    [Fact]
    public void Group_NoToaAnywhere_ConnectionWithoutOptions()
    {
        var c = Assert.Single(CapturedConnection.Group([ToServer("S"), ToServer("."), ToServer("P.", payload: 5)], 8000));

        Assert.Null(c.Toa);
        Assert.Empty(c.Options);
    }

    [Fact]
    public void Group_ToaAfterTheFirstData_NotCounted()
    {
        var c = Assert.Single(CapturedConnection.Group([ToServer("S"), ToServer("."), ToServer("P.", payload: 5), ToServer("P.", Toa4, 5)], 8000));

        Assert.Null(c.Toa);
    }

    [Fact]
    public void Group_MalformedToaKind_KeptWithoutAddress()
    {
        var c = Assert.Single(CapturedConnection.Group([ToServer("S"), ToServer(".", "c8 06 10e1 cb00 0101")], 8000));

        Assert.Null(c.Toa);
        Assert.Equal(TcpOptionType.Malformed, Assert.Single(c.Options).Option.Type);
    }

    [Fact]
    public void Group_WithoutPort_ServerIsWhereTheSynWentAndEarlierConnectionsAreLeftOut()
    {
        var earlier = IPEndPoint.Parse("10.0.0.9:50000");
        var connections = CapturedConnection.Group(
            [Segment(earlier, Server, "P.", payload: 3), ToServer("S"), Segment(Server, Balancer, "S."), ToServer(".", Toa4)], port: null);

        var c = Assert.Single(connections);
        Assert.Equal(Server, c.Server);
        Assert.NotNull(c.Toa);
    }

    [Fact]
    public void Group_WithPort_ConnectionBegunEarlierHasNoSyn()
    {
        var c = Assert.Single(CapturedConnection.Group([ToServer("P.", payload: 3), Segment(Server, Balancer, ".")], 8000));

        Assert.False(c.SawSyn);
    }
}
