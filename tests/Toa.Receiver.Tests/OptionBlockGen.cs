// SPDX-License-Identifier: MIT
using CsCheck;
using Toa.Wire;

namespace Toa.Receiver.Tests;

/// <summary>One options block and the layouts a receiver honours while reading it.</summary>
/// <param name="Bytes">The options, whole words, at most 40 bytes.</param>
/// <param name="Formats">The honoured layouts.</param>
public sealed record OptionBlock(byte[] Bytes, ToaLayouts Formats)
{
    /// <inheritdoc />
    public override string ToString() => $"block {Convert.ToHexStringLower(Bytes)} ({Bytes.Length} bytes), formats {Formats}";
}

/// <summary>
/// Options blocks that reach every rule of docs/receiver.md's "Parsing rules": every known kind at
/// its lengths, next to them and anywhere else, contents that look like TOAs (ports, addresses of
/// the refused ranges and their neighbours, Alibaba's version, the Fast Open magic), EOL and NOP,
/// noise, cut anywhere and padded to whole words. Uniform bytes would almost never get there.
/// </summary>
internal static class OptionBlockGen
{
    // The lengths each known kind is written with: 2 MSS, 3 WS, 4 SACK-permitted, 5 SACK, 8 TS,
    // 28 user timeout and Alibaba CDN, 34 TFO, 200, 253, 254 TOAs and TFO's experimental form.
    private static readonly Dictionary<byte, int[]> RightLengths = new()
    {
        [2] = [4], [3] = [3], [4] = [2], [5] = [10, 18, 26, 34], [8] = [10],
        [28] = [4, 7, 19], [34] = [2, 6, 10, 18], [200] = [8], [253] = [8, 20], [254] = [4, 8, 12, 20],
    };

    private static readonly byte[] Kinds = [.. RightLengths.Keys];

    private static Gen<byte[]> Filled(byte[] prefix, int length) =>
        Gen.Byte.Array[Math.Max(0, length - prefix.Length)].Select(rest => (byte[])[.. prefix.Take(length), .. rest]);

    // First bytes of IPv4 addresses the rules refuse (0/8, 127/8, 224/4, 255) and their neighbours.
    private static readonly Gen<byte[]> V4 = Gen.Frequency(
        (3, Gen.Byte.Array[4]),
        (2, Gen.OneOf<byte>(0, 1, 126, 127, 128, 223, 224, 239, 240, 254, 255).SelectMany(first => Filled([first], 4))),
        (1, Gen.OneOf<byte[]>([0, 0, 0, 0], [255, 255, 255, 255], [255, 255, 255, 254], [127, 0, 0, 1])));

    private static readonly byte[] Zeros10 = new byte[10];

    // Prefixes of IPv6 addresses the rules refuse (::/96, ::ffff:0:0/96, ff00::/8) and their neighbours.
    private static readonly Gen<byte[]> V6 = Gen.Frequency(
        (3, Gen.Byte.Array[16]),
        (2, Gen.OneOf<byte[]>(
                [.. Zeros10, 0, 0], [.. Zeros10, 0xff, 0xff], [.. Zeros10, 0xff, 0xfe], [.. Zeros10, 0, 1],
                [.. Zeros10, 0], [0xff], [0xfe], [0xfe, 0x80], [0x20, 0x01, 0x0d, 0xb8], [0x00, 0x64, 0xff, 0x9b])
            .SelectMany(prefix => Filled(prefix, 16))),
        (1, Gen.OneOf<byte[]>(new byte[16], [.. new byte[15], 1], [.. Zeros10, 0xff, 0xff, 0, 0, 0, 0])));

    private static readonly Gen<byte[]> Port = Gen.Frequency(
        (4, Gen.Byte.Array[2]),
        (1, Gen.OneOf<byte[]>([0, 0], [0xf9, 0x89], [0xff, 0xff])));

    private static readonly Gen<byte[]> Address = Gen.OneOf(V4, V6);

    /// <summary><paramref name="n"/> bytes after a kind and length: noise, or what a TOA or Fast Open puts there.</summary>
    private static Gen<byte[]> Contents(int n) => Gen.Frequency(
        (1, Gen.Byte.Array[n]),
        (3, from port in Port from address in Address from bytes in Filled([.. port, .. address], n) select bytes),
        (1, from version in Gen.Frequency((3, Gen.Const((byte)1)), (1, Gen.Byte))
            from address in Address
            from bytes in Filled([version, .. address], n)
            select bytes),
        (1, Filled([0xf9, 0x89], n)));

    // A kind's lengths, the ones next to them, any small length, any byte.
    private static Gen<int> Length(byte kind)
    {
        var right = RightLengths.GetValueOrDefault(kind, [2, 4, 8]);
        return Gen.Frequency(
            (4, Gen.OneOf<int>(right)),
            (2, from r in Gen.OneOf<int>(right) from d in Gen.Int[-2, 2] select Math.Max(0, r + d)),
            (1, Gen.Int[0, 41]),
            (1, Gen.Int[0, 255]));
    }

    /// <summary>An option other than EOL and NOP, well formed or not; its length byte may lie.</summary>
    private static readonly Gen<byte[]> Option =
        from kind in Gen.Frequency((8, Gen.OneOf<byte>(Kinds)), (1, Gen.Byte))
        from length in Length(kind)
        from contents in Contents(Math.Clamp(length, 2, 40) - 2)
        select (byte[])[kind, (byte)length, .. contents];

    private static readonly Gen<byte[]> Nop = Gen.Const(new byte[] { 1 });

    private static Gen<byte[]> Sound(Gen<(byte Kind, int Length)> kindAndLength) =>
        from k in kindAndLength
        from contents in Contents(k.Length - 2)
        select (byte[])[k.Kind, (byte)k.Length, .. contents];

    /// <summary>A known option other than a TOA at one of its lengths: what real headers are made of.</summary>
    private static readonly Gen<byte[]> SoundOther = Sound(Gen.OneOf<(byte, int)>(
        (2, 4), (3, 3), (4, 2), (5, 10), (5, 18), (8, 10), (28, 4), (34, 2), (34, 10)));

    /// <summary>Any layout's kind and length, with contents a TOA or Fast Open would have, or noise.</summary>
    private static readonly Gen<byte[]> SoundToa = Sound(
        Gen.Enum<ToaLayout>().Select(l => (l.Kind(), (int)l.Length())));

    /// <summary>Sound options and NOPs around at most one TOA: the blocks that can give a client.</summary>
    private static readonly Gen<byte[][]> SoundBlock =
        from others in Gen.Frequency((4, SoundOther), (1, Nop)).Array[0, 5]
        from toa in Gen.Frequency((4, SoundToa.Select(t => new[] { t })), (1, Gen.Const(Array.Empty<byte[]>())))
        from at in Gen.Int[0, others.Length]
        select (byte[][])[.. others[..at], .. toa, .. others[at..]];

    private static readonly Gen<byte[]> Fragment = Gen.Frequency(
        (8, Option),
        (3, Nop),
        (1, Gen.Const(new byte[] { 0 })),
        (1, Gen.Byte.Array[1, 4]));

    /// <summary>
    /// The options of a header: 0 to 40 bytes of fragments, anything or sound options and NOPs,
    /// cut anywhere or at 40 bytes, then 0 to 3 bytes of padding (EOL, NOP or noise) to a whole word.
    /// </summary>
    public static readonly Gen<byte[]> Block =
        from fragments in Gen.Frequency((3, Fragment.Array[0, 8]), (2, SoundBlock))
        let joined = fragments.SelectMany(f => f).ToArray()
        from cut in Gen.Frequency((1, Gen.Int[0, Math.Min(40, joined.Length)]), (1, Gen.Const(Math.Min(40, joined.Length))))
        from padding in Gen.OneOf(Gen.Const((byte)0), Gen.Const((byte)1), Gen.Byte).Array[(4 - cut % 4) % 4]
        select (byte[])[.. joined[..cut], .. padding];

    /// <summary>Every subset of layouts, the default and all of them most often.</summary>
    public static readonly Gen<ToaLayouts> Formats = Gen.Frequency(
        (2, Gen.Const(ToaLayouts.Default)),
        (1, Gen.Const(ToaLayouts.All)),
        (3, Gen.Int[0, (int)ToaLayouts.All].Select(f => (ToaLayouts)f)));

    /// <summary>A block and the layouts to read it with.</summary>
    public static readonly Gen<OptionBlock> Case =
        from bytes in Block
        from formats in Formats
        select new OptionBlock(bytes, formats);
}
