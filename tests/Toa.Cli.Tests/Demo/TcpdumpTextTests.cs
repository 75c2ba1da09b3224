// SPDX-License-Identifier: MIT
using System.Net;
using CsCheck;
using Toa.Cli.Demo;
using Toa.Core.Tests.Wire;
using Toa.Wire;

namespace Toa.Cli.Tests.Demo;

public class TcpdumpTextTests
{
    // Lines as tcpdump 4.99 prints them with -v -nn: an IPv4 packet takes two lines, the TCP part
    // indented on the second; an IPv6 packet takes one.
    private const string Ipv4Syn =
        "    198.51.100.10.40000 > 10.0.0.2.80: Flags [S], cksum 0x7c3d (correct), seq 1, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0";
    private const string Ipv4Tencent =
        "    198.51.100.10.40000 > 10.0.0.2.80: Flags [.], cksum 0x75f6 (correct), ack 5, win 64240, options [nop,nop,TS val 2 ecr 3,unknown-200 0x10e1cb007107], length 0";
    private const string Ipv6Syn =
        "22:13:30.000000 IP6 (flowlabel 0x12345, hlim 64, next-header TCP (6) payload length: 40) 2001:db8::10.40000 > 2001:db8::2.80: Flags [S], cksum 0x54f9 (correct), seq 1, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0";
    private const string Ipv6Tencent =
        "22:13:29.000000 IP6 (flowlabel 0x12345, hlim 64, next-header TCP (6) payload length: 52) 2001:db8::10.40000 > 2001:db8::2.80: Flags [.], cksum 0x0015 (correct), ack 5, win 64240, options [nop,nop,TS val 2 ecr 3,unknown-253 0x08ae20010db8000000000000000000000007], length 0";

    private static string[] Hex(string line) =>
        [.. TcpdumpText.ParseOptions(line).Select(o => Convert.ToHexStringLower(o.AsSpan()))];

    private static ToaAddress[] Toas(string line, ToaLayouts accepted = ToaLayouts.Default) =>
        [.. TcpdumpText.ParseOptions(line).Select(o => ToaAddress.TryDecode(o.AsSpan(), accepted, out var a) ? a : (ToaAddress?)null)
            .OfType<ToaAddress>()];

    [Theory]
    [InlineData(Ipv4Syn)]
    [InlineData(Ipv6Syn)]
    public void ParseOptions_SynWithoutToa_RebuildsTheWholeBlock(string line)
    {
        Assert.Equal(["020405b4", "0402", "080a0000000100000000", "01", "030307"], Hex(line));
        Assert.Empty(Toas(line));
    }

    [Fact]
    public void ParseOptions_Ipv4WithTencent4_GivesTheGuidesClient()
    {
        Assert.Equal(["01", "01", "080a0000000200000003", "c80810e1cb007107"], Hex(Ipv4Tencent));
        Assert.Equal([new ToaAddress(ToaLayout.Tencent4, IPEndPoint.Parse("203.0.113.7:4321"))], Toas(Ipv4Tencent));
    }

    [Fact]
    public void ParseOptions_Ipv6WithTencent6_GivesTheGuidesClient()
    {
        Assert.Equal([new ToaAddress(ToaLayout.Tencent6, IPEndPoint.Parse("[2001:db8::7]:2222"))], Toas(Ipv6Tencent));
    }

    [Fact]
    public void ParseOptions_EveryOptionRebuilt_ConcatenationScansLikeThePacket()
    {
        var block = TcpdumpText.ParseOptions(Ipv4Tencent).SelectMany(o => o).ToArray();

        Assert.Equal(new ToaAddress(ToaLayout.Tencent4, IPEndPoint.Parse("203.0.113.7:4321")), TcpOptions.Scan(block).Selected);
    }

    [Fact]
    public void ParseOptions_UCloud253Of8_DecodesOnlyWhenAccepted()
    {
        const string line = "    198.51.100.10.40000 > 10.0.0.2.80: Flags [.], cksum 0x40f6 (correct), ack 1, win 64240, options [nop,nop,TS val 2 ecr 3,unknown-253 0x10e1cb007107], length 0";

        Assert.Empty(Toas(line));
        Assert.Equal([new ToaAddress(ToaLayout.UCloud4, IPEndPoint.Parse("203.0.113.7:4321"))], Toas(line, ToaLayouts.All));
    }

    [Theory]
    // DPVS 254/8: tcpdump prints only the two bytes after the length.
    [InlineData("options [nop,nop,TS val 2 ecr 3,exp-10e1], length 0", new[] { "01", "01", "080a0000000200000003" })]
    // Alibaba CDN 28/7 reads as a user timeout with a length note.
    [InlineData("options [nop,nop,TS val 2 ecr 3,uto 0x1cb 13740[len 7],eol], length 0", new[] { "01", "01", "080a0000000200000003", "00" })]
    [InlineData("options [mss 1460,exp-tfo cookiereq], length 0", new[] { "020405b4" })]
    [InlineData("options [sack 1 {4294967293:4294967294},[bad opt]]", new string[0])]
    [InlineData("options [unknown-200,unknown-253,[bad opt]]", new[] { "c802", "fd02" })]
    [InlineData("options [nop,nop,unknown-200 0x10e1cb00710700,eol], length 0", new[] { "01", "01", "c80910e1cb00710700", "00" })]
    [InlineData("options [TS val 4294967295 ecr 0]", new[] { "080affffffff00000000" })]
    [InlineData("options [unknown-200 0x10E1CB007107]", new[] { "c80810e1cb007107" })]
    public void ParseOptions_OptionsTcpdumpShortens_RebuildsOnlyTheExactOnes(string line, string[] hex)
    {
        Assert.Equal(hex, Hex(line));
    }

    [Fact]
    public void ParseOptions_WrongLengthTencentOption_RebuildsButDoesNotDecode()
    {
        const string line = "options [unknown-200 0x10e1cb007107aabb,eol], length 0";

        Assert.Equal(["c80a10e1cb007107aabb", "00"], Hex(line));
        Assert.Empty(Toas(line, ToaLayouts.All));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("reading from file t.pcap, link-type RAW (Raw IP), snapshot length 65535")]
    [InlineData("22:13:20.000000 IP (tos 0x0, ttl 64, id 4660, offset 0, flags [DF], proto TCP (6), length 60)")]
    [InlineData("options [")]
    [InlineData("options [unknown-200 0x10e1cb007107")]
    [InlineData("options [unknown-256 0x10e1cb007107]")]
    [InlineData("options [unknown-200 0x10e1cb00710]")]
    [InlineData("options [unknown-200 0xzz]")]
    [InlineData("options [unknown-200 0x]")]
    [InlineData("options [unknown-200  0x10e1cb007107]")]
    [InlineData("options [mss 65536,wscale 256,TS val 4294967296 ecr 0,TS val 1 ecr 99999999999]")]
    [InlineData("options [mss -1,mss 0x10,nop ,NOP, nop]")]
    [InlineData("options (NOP,NOP)")]
    public void ParseOptions_NotRebuildable_GivesNothing(string? line)
    {
        Assert.Empty(TcpdumpText.ParseOptions(line));
    }

    [Fact]
    public void ParseOptions_PayloadTooLongForALengthByte_IsLeftOut()
    {
        var line = $"options [unknown-200 0x{new string('a', 2 * 254)},unknown-200 0x{new string('b', 2 * 253)}]";

        var option = Assert.Single(TcpdumpText.ParseOptions(line));
        Assert.Equal(255, option[1]);
    }

    // Printed the way tcpdump prints an option it does not know, every TOA encoding comes back.
    [Fact]
    public void ParseOptions_PrintedEncoding_RoundTrips()
    {
        WireGen.Address.Sample(toa =>
        {
            var bytes = toa.Encode();
            var line = $"options [nop,unknown-{bytes[0]} 0x{Convert.ToHexStringLower(bytes, 2, bytes.Length - 2)},eol], length 0";

            Assert.Equal(["01", Convert.ToHexStringLower(bytes), "00"], Hex(line));
        });
    }

    [Fact]
    public void ParseOptions_AnyText_NeverThrows()
    {
        var pieces = Gen.OneOf(
            Gen.OneOf("options [", "unknown-", "0x", ",", "[", "]", " ", "nop", "eol", "mss ", "wscale ", "TS val ", " ecr ", "sackOK", "[len 7]"),
            Gen.Int[0, 1000].Select(i => i.ToString()),
            Gen.Byte.Array[0, 20].Select(Convert.ToHexStringLower),
            Gen.String);
        pieces.Array[0, 30].Select(p => string.Concat(p)).Sample(line => { TcpdumpText.ParseOptions(line); }, iter: 10_000);
    }
}
