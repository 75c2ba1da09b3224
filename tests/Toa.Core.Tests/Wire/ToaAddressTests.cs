// SPDX-License-Identifier: MIT
using System.Net;
using CsCheck;
using Toa.Wire;

namespace Toa.Core.Tests.Wire;

public class ToaAddressTests
{
    // The bytes the TOA guide's tcpdump screenshots show for these clients.
    [Theory]
    [InlineData(ToaLayout.Tencent4, "203.0.113.7", 4321, "c80810e1cb007107")]
    [InlineData(ToaLayout.Tencent6, "2001:db8::7", 2222, "fd1408ae20010db8000000000000000000000007")]
    [InlineData(ToaLayout.Dpvs4, "203.0.113.7", 4321, "fe0810e1cb007107")]
    [InlineData(ToaLayout.AlibabaCdn4, "203.0.113.7", 0, "1c0701cb007107")]
    [InlineData(ToaLayout.UCloud4, "203.0.113.7", 4321, "fd0810e1cb007107")]
    public void Encode_KnownClient_GivesDocumentedBytes(ToaLayout layout, string address, int port, string hex)
    {
        var bytes = new ToaAddress(layout, new IPEndPoint(IPAddress.Parse(address), port)).Encode();

        Assert.Equal(hex, Convert.ToHexStringLower(bytes));
    }

    [Fact]
    public void Encode_ClientOfOtherFamily_Throws()
    {
        var option = new ToaAddress(ToaLayout.Tencent4, new IPEndPoint(IPAddress.Parse("2001:db8::7"), 1));

        Assert.Throws<ArgumentException>(() => option.Encode());
    }

    // Hand-computed: kind, length, then port 4321 = 0x10e1 or 2222 = 0x08ae (or Alibaba's version 1),
    // then 203.0.113.7 = cb 00 71 07 or 2001:db8::7.
    [Theory]
    [InlineData("c80810e1cb007107", ToaLayout.Tencent4, "203.0.113.7:4321")]
    [InlineData("fd1408ae20010db8000000000000000000000007", ToaLayout.Tencent6, "[2001:db8::7]:2222")]
    [InlineData("fe0810e1cb007107", ToaLayout.Dpvs4, "203.0.113.7:4321")]
    [InlineData("fe1408ae20010db8000000000000000000000007", ToaLayout.Dpvs6, "[2001:db8::7]:2222")]
    [InlineData("1c0701cb007107", ToaLayout.AlibabaCdn4, "203.0.113.7:0")]
    [InlineData("1c130120010db8000000000000000000000007", ToaLayout.AlibabaCdn6, "[2001:db8::7]:0")]
    [InlineData("fd0810e1cb007107", ToaLayout.UCloud4, "203.0.113.7:4321")]
    [InlineData("c80800000a000001", ToaLayout.Tencent4, "10.0.0.1:0")]
    [InlineData("c8081f90fe800000", ToaLayout.Tencent4, "254.128.0.0:8080")]
    [InlineData("fd1408ae00000000000000000001000000000001", ToaLayout.Tencent6, "[::1:0:0:1]:2222")]
    [InlineData("fd1408ae0064ff9b0000000000000000cb007107", ToaLayout.Tencent6, "[64:ff9b::cb00:7107]:2222")]
    [InlineData("c80810e1cb0071070101080a", ToaLayout.Tencent4, "203.0.113.7:4321")]
    public void TryDecode_HandComputedBytes_GivesClient(string hex, ToaLayout layout, string client)
    {
        var decoded = ToaAddress.TryDecode(Convert.FromHexString(hex), ToaLayouts.All, out var address);

        Assert.True(decoded);
        Assert.Equal(new ToaAddress(layout, IPEndPoint.Parse(client)), address);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("c8", "kind without length")]
    [InlineData("c80810e1cb0071", "one byte short of its length")]
    [InlineData("c80710e1cb0071", "200 with length 7")]
    [InlineData("c80910e1cb00710700", "200 with length 9")]
    [InlineData("fd0a10e1cb0071070000", "253 with length 10")]
    [InlineData("fe08f989cb007107", "254 with Fast Open's magic: DPVS port 63881")]
    [InlineData("fe14f98920010db8000000000000000000000007", "254/20 with Fast Open's magic")]
    [InlineData("1c0702cb007107", "Alibaba CDN version 2")]
    [InlineData("1c0700cb007107", "Alibaba CDN version 0")]
    [InlineData("1c04012c", "28/4, the user timeout option")]
    [InlineData("c80810e100000000", "0.0.0.0")]
    [InlineData("c80810e100010203", "0.1.2.3, this network")]
    [InlineData("c80810e17f000001", "loopback 127.0.0.1")]
    [InlineData("fe0810e17fffffff", "loopback 127.255.255.255")]
    [InlineData("fd1408ae00000000000000000000000000000001", "loopback ::1")]
    [InlineData("fd1408ae000000000000000000000000cb007107", "IPv4-compatible ::203.0.113.7")]
    [InlineData("fd1408ae00000000000000000000000000000000", "::")]
    [InlineData("fd1408ae00000000000000000000ffffcb007107", "IPv4-mapped ::ffff:203.0.113.7")]
    [InlineData("fe1408ae00000000000000000000ffffcb007107", "IPv4-mapped in DPVS")]
    [InlineData("1c1301ff020000000000000000000000000001", "IPv6 multicast ff02::1")]
    [InlineData("c80810e1e0000001", "multicast 224.0.0.1")]
    [InlineData("fe0810e1efffffff", "multicast 239.255.255.255")]
    [InlineData("fd0810e1ffffffff", "broadcast 255.255.255.255")]
    [InlineData("0808000000010000", "kind 8 is timestamps")]
    public void TryDecode_NotAValidToa_ReturnsFalse(string hex, string why)
    {
        var decoded = ToaAddress.TryDecode(Convert.FromHexString(hex), ToaLayouts.All, out var address);

        Assert.False(decoded, why);
        Assert.Equal(default, address);
    }

    [Theory]
    [InlineData("c80810e1cb007107", ToaLayouts.Dpvs4 | ToaLayouts.Dpvs6)]
    [InlineData("fd0810e1cb007107", ToaLayouts.Default)]
    [InlineData("fd1408ae20010db8000000000000000000000007", ToaLayouts.UCloud4)]
    [InlineData("1c0701cb007107", ToaLayouts.Default)]
    [InlineData("c80810e1cb007107", ToaLayouts.None)]
    public void TryDecode_LayoutNotAccepted_ReturnsFalse(string hex, ToaLayouts accepted)
    {
        Assert.False(ToaAddress.TryDecode(Convert.FromHexString(hex), accepted, out _));
    }

    [Theory]
    [InlineData(ToaLayout.Dpvs4, "203.0.113.7:63881", false)]
    [InlineData(ToaLayout.Dpvs6, "[2001:db8::7]:63881", false)]
    [InlineData(ToaLayout.Tencent4, "203.0.113.7:63881", true)]
    [InlineData(ToaLayout.AlibabaCdn4, "203.0.113.7:80", false)]
    [InlineData(ToaLayout.Tencent6, "[fe80::7%2]:80", false)]
    [InlineData(ToaLayout.Tencent6, "[fe80::7]:80", true)]
    [InlineData(ToaLayout.Tencent6, "203.0.113.7:80", false)]
    [InlineData(ToaLayout.Tencent4, "0.0.0.0:80", false)]
    [InlineData((ToaLayout)99, "203.0.113.7:80", false)]
    public void IsValid_Client_SaysWhetherReceiverGetsItBack(ToaLayout layout, string client, bool valid)
    {
        Assert.Equal(valid, new ToaAddress(layout, IPEndPoint.Parse(client)).IsValid);
    }

    [Fact]
    public void IsValid_Default_IsFalse()
    {
        Assert.False(default(ToaAddress).IsValid);
    }

    [Fact]
    public void TryDecode_EveryEncoding_RoundTripsExactlyWhenValid()
    {
        WireGen.Address.Sample(toa =>
        {
            var decoded = ToaAddress.TryDecode(toa.Encode(), ToaLayouts.All, out var back);

            Assert.Equal(toa.IsValid, decoded);
            if (decoded)
                Assert.Equal(toa, back);
        }, iter: 10_000);
    }

    [Fact]
    public void TryDecode_ValidEncodingFollowedByOtherBytes_RoundTrips()
    {
        Gen.Select(WireGen.ValidAddress, Gen.Byte.Array[0, 20]).Sample((toa, tail) =>
        {
            Assert.True(ToaAddress.TryDecode([.. toa.Encode(), .. tail], toa.Layout.AsSet(), out var back));
            Assert.Equal(toa, back);
        });
    }

    [Fact]
    public void TryDecode_LayoutOutsideAccepted_ReturnsFalse()
    {
        Gen.Select(WireGen.ValidAddress, Gen.Enum<ToaLayouts>()).Sample((toa, accepted) =>
        {
            var without = accepted & ~toa.Layout.AsSet();

            Assert.False(ToaAddress.TryDecode(toa.Encode(), without, out _));
        });
    }

    [Fact]
    public void TryDecode_TruncatedEncoding_ReturnsFalse()
    {
        (from toa in WireGen.Address
         let bytes = toa.Encode()
         from cut in Gen.Int[0, bytes.Length - 1]
         select bytes[..cut])
        .Sample(prefix => Assert.False(ToaAddress.TryDecode(prefix, ToaLayouts.All, out _)));
    }

    [Fact]
    public void TryDecode_FastOpenMagicOn254_ReturnsFalse()
    {
        (from length in Gen.Int[0, 40]
         from rest in Gen.Byte.Array[0, 40]
         select (byte[])[254, (byte)length, 0xF9, 0x89, .. rest])
        .Sample(option => Assert.False(ToaAddress.TryDecode(option, ToaLayouts.All, out _)));
    }

    // Only an exact, valid encoding may yield a client: re-encoding it must give the same bytes.
    [Fact]
    public void TryDecode_AnyBytes_ReturnsOnlyWhatReencodesToThem()
    {
        Gen.OneOf(WireGen.OptionLikeBytes, Gen.Byte.Array[0, 40], Gen.Byte.Array[41, 300]).Sample(bytes =>
        {
            if (ToaAddress.TryDecode(bytes, ToaLayouts.All, out var toa))
                Assert.Equal(Convert.ToHexString(bytes, 0, toa.Layout.Length()), Convert.ToHexString(toa.Encode()));
        }, iter: 20_000);
    }
}
