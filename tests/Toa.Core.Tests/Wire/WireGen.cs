// SPDX-License-Identifier: MIT
using System.Net;
using CsCheck;
using Toa.Wire;

namespace Toa.Core.Tests.Wire;

/// <summary>Generators of addresses, TOAs and other TCP options for property tests.</summary>
internal static class WireGen
{
    private static readonly Gen<IPAddress> RandomV4 = Gen.Byte.Array[4].Select(b => new IPAddress(b));
    private static readonly Gen<IPAddress> RandomV6 = Gen.Byte.Array[16].Select(b => new IPAddress(b));

    // Uniform bytes almost never hit the addresses a decoder must refuse, so mix them in by hand.
    private static readonly Gen<IPAddress> V4 = Gen.Frequency(
        (8, RandomV4),
        (1, Gen.OneOf(IPAddress.Any, IPAddress.Broadcast, IPAddress.Loopback,
            IPAddress.Parse("224.0.0.1"), IPAddress.Parse("239.255.255.255"), IPAddress.Parse("223.255.255.255"))));

    private static readonly Gen<IPAddress> V6 = Gen.Frequency(
        (8, RandomV6),
        (1, Gen.OneOf(IPAddress.IPv6Any, IPAddress.IPv6Loopback, IPAddress.Parse("ff02::1"),
            IPAddress.Parse("::ffff:203.0.113.7"), IPAddress.Parse("::203.0.113.7"), IPAddress.Parse("64:ff9b::cb00:7107"))));

    private static readonly Gen<int> Port = Gen.Frequency(
        (8, Gen.Int[0, 65535]),
        (1, Gen.OneOf(0, 1, ToaAddress.FastOpenMagic, 65535)));

    /// <summary>Any client a layout can be asked to carry, valid or not (see <see cref="ToaAddress.IsValid"/>).</summary>
    public static readonly Gen<ToaAddress> Address =
        from layout in Gen.Enum<ToaLayout>()
        from ip in layout.Family() == System.Net.Sockets.AddressFamily.InterNetwork ? V4 : V6
        from port in layout.HasPort() ? Port : Gen.Const(0)
        select new ToaAddress(layout, new IPEndPoint(ip, port));

    /// <summary>Clients a receiver must get back exactly.</summary>
    public static readonly Gen<ToaAddress> ValidAddress = Address.Where(a => a.IsValid);

    /// <summary>Kinds the scanner recognises besides the TOA kinds (28, 200, 253, 254).</summary>
    public static readonly byte[] KnownKinds = [0, 1, 2, 3, 4, 5, 8, 28, 34, 200, 253, 254];

    private static Gen<byte[]> Option(byte kind, Gen<int> payloadLength) =>
        from n in payloadLength
        from payload in Gen.Byte.Array[n]
        select (byte[])[kind, (byte)(n + 2), .. payload];

    private static readonly Gen<int> EvenCookie = Gen.Int[2, 8].Select(half => half * 2);

    /// <summary>A well-formed option that is not a TOA, NOPs included, EOL excluded.</summary>
    public static readonly Gen<byte[]> OtherOption = Gen.OneOf(
        Gen.Const(new byte[] { 1 }),
        Option(2, Gen.Const(2)),
        Option(3, Gen.Const(1)),
        Option(4, Gen.Const(0)),
        Option(5, Gen.Int[1, 4].Select(blocks => blocks * 8)),
        Option(8, Gen.Const(8)),
        Option(28, Gen.Const(2)),
        Option(34, Gen.OneOf(Gen.Const(0), EvenCookie)),
        from cookie in Gen.OneOf(Gen.Const(0), EvenCookie)
        from payload in Gen.Byte.Array[cookie]
        select (byte[])[254, (byte)(cookie + 4), 0xF9, 0x89, .. payload],
        from kind in Gen.Byte.Where(k => !KnownKinds.Contains(k))
        from option in Option(kind, Gen.Int[0, 10])
        select option);

    /// <summary>A layout's kind and length bytes followed by random contents.</summary>
    private static readonly Gen<byte[]> LayoutWithNoise =
        from layout in Gen.Enum<ToaLayout>()
        from contents in Gen.Byte.Array[layout.Length() - 2]
        select (byte[])[layout.Kind(), layout.Length(), .. contents];

    /// <summary>
    /// Bytes that look like options often enough to reach every branch of a scanner: encodings of any
    /// client, layouts with random contents, other options, lone kind bytes, the Fast Open magic and
    /// noise, cut to 0..60 bytes.
    /// </summary>
    public static readonly Gen<byte[]> OptionLikeBytes =
        from fragments in Gen.OneOf(
                Address.Select(a => a.Encode()),
                LayoutWithNoise,
                OtherOption,
                Gen.OneOf<byte>(0, 1, 2, 28, 200, 253, 254).Select(b => new[] { b }),
                Gen.Const(new byte[] { 0xF9, 0x89 }),
                Gen.Byte.Array[0, 6])
            .Array[0, 8]
        let joined = fragments.SelectMany(f => f).ToArray()
        from length in Gen.Int[0, Math.Min(joined.Length, 60)]
        select joined[..length];
}
