// SPDX-License-Identifier: MIT
using System.Net;
using CsCheck;
using Toa.Wire;

namespace Toa.Core.Tests.Wire;

public class TcpOptionsTests
{
    private static readonly ToaAddress Client4 = new(ToaLayout.Tencent4, IPEndPoint.Parse("203.0.113.7:4321"));
    private static readonly ToaAddress Client6 = new(ToaLayout.Tencent6, IPEndPoint.Parse("[2001:db8::7]:2222"));

    private static TcpOptionScan Scan(string hex, ToaLayouts accepted = ToaLayouts.Default) =>
        TcpOptions.Scan(Convert.FromHexString(hex.Replace(" ", "")), accepted);

    private static string Shape(TcpOptionScan scan) =>
        string.Join(",", scan.Options.Select(o => o.Problem == TcpOptionProblem.None ? $"{o.Offset}:{o.Type}" : $"{o.Offset}:{o.Problem}"));

    [Theory]
    [InlineData("", "")]
    [InlineData("020405b4 0402 080a0000000100000000 01 030307",
        "0:MaximumSegmentSize,4:SackPermitted,6:Timestamps,16:NoOperation,17:WindowScale")]
    [InlineData("0101 050a0000000100000002 0101 051200000001000000020000000300000004",
        "0:NoOperation,1:NoOperation,2:Sack,12:NoOperation,13:NoOperation,14:Sack")]
    [InlineData("1c04012c 2202 220a0102030405060708 fe04f989 fe0cf989010203040506070801",
        "0:UserTimeout,4:FastOpen,6:FastOpen,16:FastOpenExperimental,20:FastOpenExperimental,32:NoOperation")]
    [InlineData("1e0400000101", "0:Unknown,4:NoOperation,5:NoOperation")]
    [InlineData("fd0810e1cb007107", "0:ToaNotAccepted")]
    [InlineData("0000c80810e1cb007107", "0:EndOfList")]
    [InlineData("010100c80810e1cb007107", "0:NoOperation,1:NoOperation,2:EndOfList")]
    public void Scan_WellFormedBlock_ListsEveryOption(string hex, string shape)
    {
        var scan = Scan(hex);

        Assert.Equal(shape, Shape(scan));
        Assert.False(scan.HasMalformed);
        Assert.Null(scan.Selected);
    }

    [Theory]
    [InlineData("02", "0:Truncated")]
    [InlineData("0101c8", "0:NoOperation,1:NoOperation,2:Truncated")]
    [InlineData("0200c80810e1cb007107", "0:LengthTooSmall")]
    [InlineData("0201c80810e1cb007107", "0:LengthTooSmall")]
    [InlineData("c80910e1cb007107", "0:PastEnd")]
    [InlineData("020405b4 08ff", "0:MaximumSegmentSize,4:PastEnd")]
    [InlineData("c80a10e1cb007107aabb", "0:NoLayoutForLength")]
    [InlineData("fe0600010203 fd0400000101", "0:Unknown,6:NoLayoutForLength,10:NoOperation,11:NoOperation")]
    [InlineData("1c0702cb007107", "0:BadVersion")]
    [InlineData("c80810e100000000", "0:ImplausibleAddress")]
    [InlineData("c80810e17f000001", "0:ImplausibleAddress")]
    [InlineData("fd1408ae00000000000000000000ffffcb007107", "0:ImplausibleAddress")]
    [InlineData("fd1408ae000000000000000000000000cb007107", "0:ImplausibleAddress")]
    [InlineData("fd1408ae00000000000000000000000000000001", "0:ImplausibleAddress")]
    public void Scan_MalformedOption_ReportsWhyAndWhereItStopped(string hex, string shape)
    {
        var scan = Scan(hex, ToaLayouts.All);

        Assert.Equal(shape, Shape(scan));
        Assert.True(scan.HasMalformed);
        Assert.Equal(ToaVerdict.Malformed, scan.Verdict);
        Assert.Null(scan.Selected);
    }

    // Sound lengths the walk can step over: a receiver ignores them, as Linux's TCP does.
    [Theory]
    [InlineData("020505b400 c80810e1cb007107", "0:WrongLength,5:Toa", ToaVerdict.Found)]
    [InlineData("0302 040300 080c00000000000000000000 0508000000000000", "0:WrongLength,2:WrongLength,5:WrongLength,17:WrongLength", ToaVerdict.None)]
    [InlineData("1c08000000000000 220300 22040000", "0:WrongLength,8:WrongLength,11:WrongLength", ToaVerdict.None)]
    [InlineData("fe06f9890000 fe0bf98900000000000000", "0:WrongLength,6:WrongLength", ToaVerdict.None)]
    [InlineData("fe0a12340011223344550101 c80810e1cb007107", "0:Unknown,10:NoOperation,11:NoOperation,12:Toa", ToaVerdict.Found)]
    public void Scan_KnownOptionOfWrongLength_ListedAndIgnored(string hex, string shape, ToaVerdict verdict)
    {
        var scan = Scan(hex, ToaLayouts.All);

        Assert.Equal(shape, Shape(scan));
        Assert.False(scan.HasMalformed);
        Assert.Equal(verdict, scan.Verdict);
    }

    [Fact]
    public void Scan_HandshakeAckWithTencent4_SelectsIt()
    {
        // nop, nop, timestamps, then the TOA guide's unknown-200 0x10e1cb007107.
        var scan = Scan("0101080a0000000200000003 c80810e1cb007107");

        Assert.Equal("0:NoOperation,1:NoOperation,2:Timestamps,12:Toa", Shape(scan));
        Assert.Equal(Client4, scan.Selected);
        Assert.Equal([Client4], scan.Addresses);
        Assert.Equal(ToaLayouts.Tencent4, scan.Matched);
        Assert.Equal(ToaLayout.Tencent4, scan.Options[3].Layout);
        Assert.Equal(8, scan.Options[3].Length);
        Assert.False(scan.HasDuplicates);
        Assert.False(scan.HasMalformed);
    }

    [Fact]
    public void Scan_Tencent6_SelectsIt()
    {
        var scan = Scan("fd1408ae20010db8000000000000000000000007");

        Assert.Equal(Client6, scan.Selected);
        Assert.Equal(ToaLayouts.Tencent6, scan.Matched);
    }

    [Fact]
    public void Scan_UCloud253Of8_DependsOnAccepted()
    {
        const string hex = "fd0810e1cb007107";

        Assert.Null(Scan(hex).Selected);
        Assert.Equal(ToaLayout.UCloud4, Scan(hex).Options[0].Layout);
        Assert.Equal(Client4 with { Layout = ToaLayout.UCloud4 }, Scan(hex, ToaLayouts.All).Selected);
    }

    [Fact]
    public void Scan_TwoTencent4_MalformedAndNothingSelected()
    {
        var second = Client4 with { Client = IPEndPoint.Parse("198.51.100.9:80") };
        var scan = TcpOptions.Scan([.. Client4.Encode(), .. second.Encode()]);

        Assert.True(scan.HasDuplicates);
        Assert.Equal(ToaVerdict.Malformed, scan.Verdict);
        Assert.Null(scan.Selected);
        Assert.Equal([Client4, second], scan.Addresses);
    }

    [Fact]
    public void Scan_AlibabaOfVersion2NotAccepted_IgnoredAndTheAcceptedOneSelected()
    {
        var scan = Scan("1c0702cb007107 01 c80810e1cb007107");

        Assert.Equal("0:ToaNotAccepted,7:NoOperation,8:Toa", Shape(scan));
        Assert.Equal(ToaVerdict.Found, scan.Verdict);
        Assert.Equal(Client4, scan.Selected);
    }

    [Fact]
    public void Scan_BadToaBeforeGoodOne_SelectsNothing()
    {
        var scan = Scan("c80810e100000000 c80810e1cb007107");

        Assert.Equal(ToaVerdict.Malformed, scan.Verdict);
        Assert.True(scan.HasDuplicates);
        Assert.True(scan.HasMalformed);
        Assert.Null(scan.Selected);
        Assert.Equal([Client4], scan.Addresses);
    }

    [Fact]
    public void Scan_NotAcceptedLayoutBeforeAcceptedOne_SelectsAcceptedWithoutDuplicates()
    {
        var scan = Scan("fe0810e1c6336409 c80810e1cb007107", ToaLayouts.Tencent4 | ToaLayouts.Tencent6);

        Assert.Equal("0:ToaNotAccepted,8:Toa", Shape(scan));
        Assert.False(scan.HasDuplicates);
        Assert.Equal(Client4, scan.Selected);
    }

    [Fact]
    public void Scan_Tencent4AndTencent6_MatchesBothAndSelectsNothing()
    {
        var scan = TcpOptions.Scan([.. Client6.Encode(), .. Client4.Encode()]);

        Assert.Equal(ToaLayouts.Tencent4 | ToaLayouts.Tencent6, scan.Matched);
        Assert.Equal(ToaVerdict.Malformed, scan.Verdict);
        Assert.Null(scan.Selected);
        Assert.True(scan.HasDuplicates);
    }

    [Fact]
    public void Scan_GoodToaThenUntrustworthyLength_SelectsNothing()
    {
        var scan = Scan("c80810e1cb007107 0800 c80810e1c6336409");

        Assert.Equal("0:Toa,8:LengthTooSmall", Shape(scan));
        Assert.Equal(ToaVerdict.Malformed, scan.Verdict);
        Assert.Null(scan.Selected);
    }

    [Fact]
    public void Scan_ValidEncodingAlone_YieldsIt()
    {
        WireGen.ValidAddress.Sample(toa =>
        {
            var scan = TcpOptions.Scan(toa.Encode(), ToaLayouts.All);

            var option = Assert.Single(scan.Options);
            Assert.Equal((0, TcpOptionType.Toa, toa.Layout.Length(), toa), (option.Offset, option.Type, option.Length, option.Address));
            Assert.Equal(toa, scan.Selected);
            Assert.Equal(toa.Layout.AsSet(), scan.Matched);
            Assert.False(scan.HasMalformed);
        }, iter: 2_000);
    }

    [Fact]
    public void Scan_LayoutNotAccepted_ListsItWithoutAddress()
    {
        Gen.Select(WireGen.ValidAddress, Gen.Enum<ToaLayouts>()).Sample((toa, accepted) =>
        {
            var scan = TcpOptions.Scan(toa.Encode(), accepted & ~toa.Layout.AsSet());

            var option = Assert.Single(scan.Options);
            Assert.Equal((TcpOptionType.ToaNotAccepted, toa.Layout), (option.Type, option.Layout));
            Assert.Null(option.Address);
            Assert.Null(scan.Selected);
        });
    }

    // Other options before and after, then maybe EOL and padding that may hold TOA bytes of its own.
    private static readonly Gen<(byte[] Block, ToaAddress Toa, int Offset, int Count)> Embedded =
        from toa in WireGen.ValidAddress
        from others in WireGen.OtherOption.Array[0, 10]
        from position in Gen.Int[0, 10]
        from eol in Gen.Bool
        from padding in WireGen.OptionLikeBytes
        let encoding = toa.Encode()
        let kept = others.Aggregate(new List<byte[]>(), (list, o) =>
        {
            if (list.Sum(x => x.Length) + o.Length + encoding.Length <= 40)
                list.Add(o);
            return list;
        })
        let at = Math.Min(position, kept.Count)
        let before = kept.Take(at).SelectMany(o => o).ToArray()
        let after = kept.Skip(at).SelectMany(o => o).ToArray()
        let tail = eol ? [0, .. padding] : Array.Empty<byte>()
        select ((byte[])[.. before, .. encoding, .. after, .. tail], toa, before.Length, kept.Count + 1 + (eol ? 1 : 0));

    [Fact]
    public void Scan_EncodingAmongOtherOptions_YieldsItAtItsOffset()
    {
        Embedded.Sample(e =>
        {
            var scan = TcpOptions.Scan(e.Block, ToaLayouts.All);

            Assert.Equal(e.Count, scan.Options.Length);
            var option = Assert.Single(scan.Options, o => o.Type == TcpOptionType.Toa);
            Assert.Equal((e.Offset, e.Toa), (option.Offset, option.Address));
            Assert.Equal(e.Toa, scan.Selected);
            Assert.Equal(ToaVerdict.Found, scan.Verdict);
            Assert.False(scan.HasMalformed);
            Assert.False(scan.HasDuplicates);
        }, iter: 5_000);
    }

    [Fact]
    public void Scan_AfterEndOfList_NeverYieldsAddress()
    {
        (from before in WireGen.OtherOption.Array[0, 6]
         from after in Gen.OneOf(WireGen.ValidAddress.Select(a => a.Encode()), WireGen.OptionLikeBytes).Array[1, 4]
         select (byte[])[.. before.SelectMany(o => o), 0, .. after.SelectMany(o => o)])
        .Sample(block =>
        {
            var scan = TcpOptions.Scan(block, ToaLayouts.All);

            Assert.Equal(TcpOptionType.EndOfList, scan.Options[^1].Type);
            Assert.Empty(scan.Addresses);
            Assert.Null(scan.Selected);
        }, iter: 5_000);
    }

    [Fact]
    public void Scan_TruncatedEncoding_NeverYieldsAddress()
    {
        (from before in WireGen.OtherOption.Array[0, 4]
         from toa in WireGen.ValidAddress
         let encoding = toa.Encode()
         from cut in Gen.Int[1, encoding.Length - 1]
         select (byte[])[.. before.SelectMany(o => o), .. encoding[..cut]])
        .Sample(block =>
        {
            var scan = TcpOptions.Scan(block, ToaLayouts.All);

            Assert.Empty(scan.Addresses);
            Assert.True(scan.Options[^1].Problem is TcpOptionProblem.Truncated or TcpOptionProblem.PastEnd);
        });
    }

    [Fact]
    public void Scan_FastOpenMagicOn254_NeverYieldsAddress()
    {
        (from length in Gen.Int[4, 40]
         from rest in Gen.Byte.Array[length - 4]
         select (byte[])[254, (byte)length, 0xF9, 0x89, .. rest])
        .Sample(block =>
        {
            var scan = TcpOptions.Scan(block, ToaLayouts.All);

            Assert.Empty(scan.Addresses);
            Assert.Equal(TcpOptionType.FastOpenExperimental, scan.Options[0].Type);
        });
    }

    // Whatever the bytes: options tile the block from 0, stop only at EOL or an untrustworthy length,
    // and an address comes only from bytes that are exactly its encoding.
    [Fact]
    public void Scan_AnyBytes_ListsContiguousOptionsAndOnlyExactEncodings()
    {
        Gen.Select(Gen.OneOf(WireGen.OptionLikeBytes, Gen.Byte.Array[0, 40], Gen.Byte.Array[41, 300]), Gen.Enum<ToaLayouts>())
        .Sample((block, accepted) =>
        {
            var scan = TcpOptions.Scan(block, accepted);

            var next = 0;
            foreach (var option in scan.Options)
            {
                Assert.Equal(next, option.Offset);
                Assert.True(next < block.Length);
                Assert.False(next > 0 && Stops(scan.Options[scan.Options.IndexOf(option) - 1]));
                next += Math.Max(option.Length, 1);
                Assert.Equal(option.Type == TcpOptionType.Toa, option.Address is not null);
                if (option.Address is { } toa)
                {
                    Assert.True((accepted & toa.Layout.AsSet()) != 0);
                    Assert.Equal(Convert.ToHexString(block, option.Offset, option.Length), Convert.ToHexString(toa.Encode()));
                }
            }
            if (scan.Options.IsEmpty || !Stops(scan.Options[^1]))
                Assert.Equal(block.Length, next);
            Assert.Equal(scan.Options.Where(o => o.Address is not null).Select(o => o.Address!.Value), scan.Addresses);
            Assert.True(scan.Selected is null || scan.Selected == scan.Addresses[0]);
            Assert.Equal(scan.Verdict == ToaVerdict.Found, scan.Selected is not null);
            Assert.Equal(scan.HasMalformed || scan.HasDuplicates, scan.Verdict == ToaVerdict.Malformed);
        }, iter: 20_000);
    }

    private static bool Stops(TcpOption option) =>
        option.Type == TcpOptionType.EndOfList
        || option.Problem is TcpOptionProblem.Truncated or TcpOptionProblem.LengthTooSmall or TcpOptionProblem.PastEnd;
}
