// SPDX-License-Identifier: MIT
using System.Net;
using System.Text;
using CsCheck;
using Toa.Wire;

namespace Toa.Core.Tests.Wire;

public sealed class ProxyProtocolTests
{
    private static readonly Gen<IPEndPoint> V4 =
        Gen.Select(Gen.Byte.Array[4], Gen.Int[0, 65535], (b, port) => new IPEndPoint(new IPAddress(b), port));

    private static readonly Gen<IPEndPoint> V6 =
        Gen.Select(Gen.Byte.Array[16], Gen.Int[0, 65535], (b, port) => new IPEndPoint(new IPAddress(b), port));

    private static readonly Gen<IPEndPoint> AnyEndPoint = Gen.OneOf(V4, V6);

    // A header as HAProxy documents it, written out by hand: PROXY TCP4 192.0.2.1:56324 -> 198.51.100.2:443.
    private static readonly byte[] Documented =
    [
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
        0x21, 0x11, 0x00, 0x0C,
        192, 0, 2, 1, 198, 51, 100, 2,
        0xDC, 0x04, 0x01, 0xBB,
    ];

    private static byte[] Write(IPEndPoint source, IPEndPoint destination)
    {
        var buffer = new byte[ProxyProtocol.V2Length(source, destination)];
        Assert.Equal(buffer.Length, ProxyProtocol.WriteV2(buffer, source, destination));
        return buffer;
    }

    [Fact]
    public void WriteV2_Ipv4Pair_MatchesTheSpecificationsLayout()
    {
        var written = Write(IPEndPoint.Parse("192.0.2.1:56324"), IPEndPoint.Parse("198.51.100.2:443"));

        Assert.Equal(Documented, written);
    }

    [Fact]
    public void TryParse_DocumentedV2Header_GivesBothEndpointsAndItsLength()
    {
        var result = ProxyProtocol.TryParse([.. Documented, .. "GET /"u8]);

        Assert.Equal(ProxyParseStatus.Complete, result.Status);
        Assert.Equal(new ProxyHeader(2, IPEndPoint.Parse("192.0.2.1:56324"), IPEndPoint.Parse("198.51.100.2:443")), result.Header);
        Assert.Equal(Documented.Length, result.Length);
    }

    [Fact]
    public void WriteV2_Ipv6ClientToIpv4Address_BothWrittenAsIpv6()
    {
        var client = IPEndPoint.Parse("[2001:db8::7]:40000");

        var parsed = ProxyProtocol.TryParse(Write(client, IPEndPoint.Parse("10.0.0.1:80")));

        Assert.Equal(52, parsed.Length);
        Assert.Equal(client, parsed.Header.Source);
        Assert.Equal(IPEndPoint.Parse("[::ffff:10.0.0.1]:80"), parsed.Header.Destination);
    }

    [Fact]
    public void WriteThenParse_AnyPair_RoundTripsAndLeavesTheFollowingBytes()
    {
        Gen.Select(AnyEndPoint, AnyEndPoint, Gen.Byte.Array[0, 64]).Sample((source, destination, after) =>
        {
            var header = Write(source, destination);
            var result = ProxyProtocol.TryParse([.. header, .. after]);

            Assert.Equal(ProxyParseStatus.Complete, result.Status);
            Assert.Equal(header.Length, result.Length);
            var mixed = source.AddressFamily != destination.AddressFamily;
            Assert.Equal(mixed ? Mapped(source) : source, result.Header.Source);
            Assert.Equal(mixed ? Mapped(destination) : destination, result.Header.Destination);
        });
    }

    [Fact]
    public void TryParse_AnyProperPrefixOfAHeader_AsksForMore()
    {
        var headers = Gen.OneOf(
            Gen.Select(AnyEndPoint, AnyEndPoint).Select((s, d) => Write(s, d)),
            Gen.Select(V4, V4).Select((s, d) => Encoding.ASCII.GetBytes($"PROXY TCP4 {s.Address} {d.Address} {s.Port} {d.Port}\r\n")),
            Gen.Select(V6, V6).Select((s, d) => Encoding.ASCII.GetBytes($"PROXY TCP6 {s.Address} {d.Address} {s.Port} {d.Port}\r\n")));
        (from header in headers
         from cut in Gen.Int[0, header.Length - 1]
         select header[..cut])
        .Sample(prefix => Assert.Equal(ProxyParseStatus.Incomplete, ProxyProtocol.TryParse(prefix).Status));
    }

    [Fact]
    public void TryParse_RandomBytes_NeverThrowsAndRefusalsSayWhy()
    {
        // Mostly bytes after a real signature, so the checks past it are reached too.
        var afterSignature = Gen.Byte.Array[0, 80].Select(b => (byte[])[.. ProxyProtocol.V2Signature, .. b]);
        var afterV1 = Gen.Byte.Array[0, 120].Select(b => (byte[])[.. "PROXY "u8, .. b]);
        Gen.OneOf(Gen.Byte.Array[0, 120], afterSignature, afterV1).Sample(bytes =>
        {
            var result = ProxyProtocol.TryParse(bytes);

            if (result.Status == ProxyParseStatus.Invalid)
                Assert.False(string.IsNullOrEmpty(result.Error));
            if (result.Status == ProxyParseStatus.Complete)
                Assert.InRange(result.Length, 1, bytes.Length);
        });
    }

    [Theory]
    [InlineData("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n", "192.0.2.1:56324", "198.51.100.2:443")]
    [InlineData("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", "[2001:db8::1]:1", "[2001:db8::2]:65535")]
    public void TryParse_V1Line_GivesBothEndpoints(string line, string source, string destination)
    {
        var result = ProxyProtocol.TryParse(Encoding.ASCII.GetBytes(line + "rest"));

        Assert.Equal(ProxyParseStatus.Complete, result.Status);
        Assert.Equal(new ProxyHeader(1, IPEndPoint.Parse(source), IPEndPoint.Parse(destination)), result.Header);
        Assert.Equal(line.Length, result.Length);
    }

    [Theory]
    [InlineData("PROXY UNKNOWN\r\n")]
    [InlineData("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n")]
    public void TryParse_V1Unknown_CompleteWithoutAddresses(string line)
    {
        var result = ProxyProtocol.TryParse(Encoding.ASCII.GetBytes(line));

        Assert.Equal((ProxyParseStatus.Complete, null, line.Length), (result.Status, result.Header.Source, result.Length));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n")]
    [InlineData("PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n")]
    [InlineData("PROXY TCP4 192.0.2.1 198.51.100.2 1 65536\r\n")]
    [InlineData("PROXY TCP4 1 198.51.100.2 1 2\r\n")]
    [InlineData("PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n")]
    [InlineData("PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n")]
    public void TryParse_BadV1Line_Refused(string line)
    {
        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocol.TryParse(Encoding.ASCII.GetBytes(line)).Status);
    }

    [Fact]
    public void TryParse_V1LineWithAControlByteBeforeItsEnd_RefusedWithoutWaiting()
    {
        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocol.TryParse("PROXY TCP4 \u0001"u8).Status);
    }

    [Fact]
    public void TryParse_V1LineWithoutEndPastTheLimit_Refused()
    {
        var line = Encoding.ASCII.GetBytes("PROXY TCP4 " + new string('1', 200));

        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocol.TryParse(line).Status);
    }

    [Theory]
    [InlineData(12, 0x11, "version")]      // version 1 in the binary form
    [InlineData(12, 0x22, "command")]      // command 2
    [InlineData(13, 0x41, "family")]       // family 4
    [InlineData(15, 0x0B, "short")]        // 11 bytes cannot hold two IPv4 addresses and ports
    [InlineData(3, 0x0B, "signature")]
    public void TryParse_BadV2Field_Refused(int offset, byte value, string reason)
    {
        var header = (byte[])Documented.Clone();
        header[offset] = value;

        var result = ProxyProtocol.TryParse(header);

        Assert.Equal(ProxyParseStatus.Invalid, result.Status);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_V2Local_CompleteWithoutAddressesAndSkipsItsBody()
    {
        byte[] local = [.. ProxyProtocol.V2Signature, 0x20, 0x00, 0x00, 0x03, 1, 2, 3];

        var result = ProxyProtocol.TryParse(local);

        Assert.Equal((ProxyParseStatus.Complete, 2, null, local.Length), (result.Status, result.Header.Version, result.Header.Source, result.Length));
    }

    [Fact]
    public void TryParse_V2WithTlvs_TheAddressesAndTheWholeLength()
    {
        // The length covers the TLVs after the addresses (here a PP2_TYPE_NOOP of 2 bytes).
        var header = (byte[])[.. Documented, 0x04, 0x00, 0x02, 0, 0];
        header[15] = 0x0C + 5;

        var result = ProxyProtocol.TryParse(header);

        Assert.Equal((ProxyParseStatus.Complete, header.Length), (result.Status, result.Length));
        Assert.Equal(IPEndPoint.Parse("192.0.2.1:56324"), result.Header.Source);
    }

    private static IPEndPoint Mapped(IPEndPoint e) => new(e.Address.MapToIPv6(), e.Port);
}
