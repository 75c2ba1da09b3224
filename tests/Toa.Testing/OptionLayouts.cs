// SPDX-License-Identifier: MIT
using System.Net;

namespace Toa.Testing;

/// <summary>What a receiver must conclude from an options block.</summary>
public enum OptionVerdict
{
    /// <summary>No honoured TOA: the true peer stays.</summary>
    None = 0,
    /// <summary>One well-formed, honoured TOA.</summary>
    Found = 1,
    /// <summary>Broken options or two TOAs: nothing is used, and it is counted.</summary>
    Malformed = 2,
}

/// <summary>One TCP options block (a multiple of 4 bytes, at most 40) and what it must give.</summary>
/// <param name="Name">What the block shows.</param>
/// <param name="Hex">The options' bytes.</param>
/// <param name="Verdict">The verdict under the default layouts (200/8, 253/20, 254/8, 254/20).</param>
/// <param name="Client">The client when found.</param>
public sealed record OptionLayout(string Name, string Hex, OptionVerdict Verdict, IPEndPoint? Client = null)
{
    /// <summary>The options' bytes.</summary>
    public byte[] Bytes => Convert.FromHexString(Hex.Replace(" ", "", StringComparison.Ordinal));

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// Option blocks for the receiver's parser, well formed and not: the same table
/// drives the parser in the kernel (BPF_PROG_TEST_RUN) and crafted packets end to end.
/// </summary>
public static class OptionLayouts
{
    private const string Toa4 = "c8 08 10e1 cb007107";               // 200/8 203.0.113.7:4321
    private const string Toa6 = "fd 14 08ae 20010db8000000000000000000000007"; // 253/20 [2001:db8::7]:2222
    private const string Nops4 = "01010101";

    /// <summary>The client <see cref="Toa4"/> carries.</summary>
    public static readonly IPEndPoint Client4 = IPEndPoint.Parse("203.0.113.7:4321");

    /// <summary>The client <see cref="Toa6"/> carries.</summary>
    public static readonly IPEndPoint Client6 = IPEndPoint.Parse("[2001:db8::7]:2222");

    /// <summary>Blocks that carry a client.</summary>
    public static readonly OptionLayout[] WellFormed =
    [
        new("200/8 alone", Toa4, OptionVerdict.Found, Client4),
        new("NOP NOP timestamps then 200/8", "0101080a 0000000a 00000000 " + Toa4, OptionVerdict.Found, Client4),
        new("253/20 alone", Toa6, OptionVerdict.Found, Client6),
        new("254/8 (DPVS)", "fe 08 10e1 cb007107", OptionVerdict.Found, Client4),
        new("254/20 (DPVS)", "fe 14 08ae 20010db8000000000000000000000007", OptionVerdict.Found, Client6),
        new("an unknown option of length 2 then 200/8", "9902 0101 " + Toa4, OptionVerdict.Found, Client4),
        new("40 bytes: 32 NOPs then 200/8", string.Concat(Enumerable.Repeat(Nops4, 8)) + Toa4, OptionVerdict.Found, Client4),
        new("a TFO cookie (254/20 with magic F989) then 200/8", "fe 14 f989 00112233445566778899aabbccddeeff " + Toa4, OptionVerdict.Found, Client4),
        new("253/20 then 200/8 of NOPs: only one TOA", Toa6 + " " + Nops4 + Nops4, OptionVerdict.Found, Client6),
        new("254/10 (another RFC 6994 experiment) then 200/8", "fe 0a 1234 001122334455 0101 " + Toa4, OptionVerdict.Found, Client4),
        new("28/7 of version 2, not honoured by default, then 200/8", "1c 07 02 cb007107 01 " + Toa4, OptionVerdict.Found, Client4),
    ];

    /// <summary>Blocks that must give no address.</summary>
    public static readonly OptionLayout[] Malformed =
    [
        new("truncated: kind 200 is the last byte", "010101c8", OptionVerdict.Malformed),
        new("length 0", "c8 00 10e1 cb007107", OptionVerdict.Malformed),
        new("length 1", "c8 01 10e1 cb007107", OptionVerdict.Malformed),
        new("length past the header", "c8 0c 10e1 cb007107", OptionVerdict.Malformed),
        new("length 255", "c8 ff 10e1 cb007107", OptionVerdict.Malformed),
        new("200 with length 6", "c8 06 10e1 cb00 0101", OptionVerdict.Malformed),
        new("200 with length 10", "c8 0a 10e1 cb007107 0000 0101", OptionVerdict.Malformed),
        new("253 with length 12", "fd 0c 08ae 20010db8 00000000 0101 0101", OptionVerdict.Malformed),
        new("duplicate 200/8", Toa4 + " " + Toa4, OptionVerdict.Malformed),
        new("duplicate 253/20, 40 bytes", Toa6 + " " + Toa6, OptionVerdict.Malformed),
        new("200/8 and 254/8 together", Toa4 + " fe 08 10e1 cb007108", OptionVerdict.Malformed),
        new("253/20 cut short by the header's end", "01010101 fd 14 08ae 20010db8 00000000", OptionVerdict.Malformed),
        new("40 bytes: 36 NOPs then 200/8 running past the end", string.Concat(Enumerable.Repeat(Nops4, 9)) + "c8 08 10e1", OptionVerdict.Malformed),
        new("an unknown option running past the header", "1e 30 0000 " + Toa4, OptionVerdict.Malformed),
        new("a zero-length SACK before 200/8", "0500 0101 " + Toa4, OptionVerdict.Malformed),
        new("200/8 then a truncated option", Toa4 + " 010101fe", OptionVerdict.Malformed),
        new("200/8 from 0.0.0.0", "c8 08 10e1 00000000", OptionVerdict.Malformed),
        new("200/8 from 0.1.2.3 (this network)", "c8 08 10e1 00010203", OptionVerdict.Malformed),
        new("200/8 from loopback 127.0.0.1", "c8 08 10e1 7f000001", OptionVerdict.Malformed),
        new("254/8 from multicast 224.0.0.1", "fe 08 10e1 e0000001", OptionVerdict.Malformed),
        new("200/8 from broadcast 255.255.255.255", "c8 08 10e1 ffffffff", OptionVerdict.Malformed),
        new("253/20 from ::", "fd 14 08ae 00000000000000000000000000000000", OptionVerdict.Malformed),
        new("253/20 from loopback ::1", "fd 14 08ae 00000000000000000000000000000001", OptionVerdict.Malformed),
        new("253/20 from IPv4-compatible ::203.0.113.7", "fd 14 08ae 000000000000000000000000cb007107", OptionVerdict.Malformed),
        new("254/20 from IPv4-mapped ::ffff:203.0.113.7", "fe 14 08ae 00000000000000000000ffffcb007107", OptionVerdict.Malformed),
        new("253/20 from multicast ff02::1", "fd 14 08ae ff020000000000000000000000000001", OptionVerdict.Malformed),
        new("TOA after end-of-list", "00010101 " + Toa4, OptionVerdict.None),
        new("254/8 with the TFO magic", "fe 08 f989 cb007107", OptionVerdict.None),
        new("254/20 with the TFO magic", "fe 14 f989 20010db8000000000000000000000007", OptionVerdict.None),
        new("253 with length 8 (UCloud, not honoured by default)", "fd 08 10e1 cb007107", OptionVerdict.None),
        new("28/7 (Alibaba CDN, not honoured by default)", "1c 07 01 cb007107 00", OptionVerdict.None),
        new("kind 28 length 4 (User Timeout)", "1c 04 001e 0101 0101", OptionVerdict.None),
        new("40 bytes of NOPs", string.Concat(Enumerable.Repeat(Nops4, 10)), OptionVerdict.None),
    ];

    /// <summary>Every block.</summary>
    public static IEnumerable<OptionLayout> All => WellFormed.Concat(Malformed);
}
