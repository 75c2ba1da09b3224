// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using Toa.Wire;

namespace Toa.Cli.Demo;

/// <summary>
/// Reads TCP options back out of the text <c>tcpdump</c> prints, so a capture shown in a terminal or
/// a log can be checked with <see cref="ToaAddress.TryDecode"/> or <see cref="TcpOptions.Scan"/>.
/// </summary>
internal static partial class TcpdumpText
{
    /// <summary>
    /// The options of the first <c>options [...]</c> list in one line of tcpdump output (with or
    /// without <c>-v</c>), each rebuilt as its bytes, kind byte first, in the order printed. What is
    /// rebuilt: <c>unknown-N 0xHEX</c> (kind N, length 2 plus the payload, the payload), which is how
    /// tcpdump shows the TOA kinds 200 and 253 (<c>unknown-200 0x10e1cb007107</c>), and the exact
    /// forms <c>nop</c>, <c>eol</c>, <c>mss N</c>, <c>wscale N</c>, <c>sackOK</c> and
    /// <c>TS val N ecr N</c>. Everything else is left out because tcpdump drops bytes when it prints
    /// it: kind 254 shows as <c>exp-XXXX</c> (only the two bytes after the length: DPVS's layouts
    /// cannot be read back), kind 28 as <c>uto ...</c>, SACK blocks relative to the connection, and
    /// anything with a <c>[len N]</c> note or <c>[bad opt]</c>. So when every printed option was
    /// rebuilt, their concatenation is the options block up to EOL. A line without a complete
    /// option list, or text that is not tcpdump's, yields nothing. Never throws.
    /// </summary>
    public static ImmutableArray<ImmutableArray<byte>> ParseOptions(string? line)
    {
        const string opening = "options [";
        var start = line?.IndexOf(opening, StringComparison.Ordinal) ?? -1;
        if (line is null || start < 0)
            return [];
        var options = ImmutableArray.CreateBuilder<ImmutableArray<byte>>();
        var depth = 0;
        var itemStart = start + opening.Length;
        for (var i = itemStart; i < line.Length; i++)
        {
            switch (line[i])
            {
                // tcpdump appends notes such as "[len 7]" and "[bad opt]" inside the list.
                case '[':
                    depth++;
                    break;
                case ']' when depth > 0:
                    depth--;
                    break;
                case ']':
                    Add(line.AsSpan(itemStart, i - itemStart), options);
                    return options.ToImmutable();
                case ',' when depth == 0:
                    Add(line.AsSpan(itemStart, i - itemStart), options);
                    itemStart = i + 1;
                    break;
            }
        }
        return [];
    }

    /// <summary>Adds the bytes of one printed option, if its text says all of them.</summary>
    private static void Add(ReadOnlySpan<char> item, ImmutableArray<ImmutableArray<byte>>.Builder options)
    {
        var match = Item().Match(item.ToString());
        if (!match.Success)
            return;
        var g = match.Groups;
        ImmutableArray<byte>? option =
            g["nop"].Success ? [1]
            : g["eol"].Success ? [0]
            : g["sackok"].Success ? [4, 2]
            : g["mss"].Success ? WithNumbers(2, 4, Number(g["mss"], ushort.MaxValue, 2))
            : g["wscale"].Success ? WithNumbers(3, 3, Number(g["wscale"], byte.MaxValue, 1))
            : g["tsval"].Success ? WithNumbers(8, 10, Number(g["tsval"], uint.MaxValue, 4), Number(g["tsecr"], uint.MaxValue, 4))
            : Unknown(g["kind"], g["payload"]);
        if (option is { } bytes)
            options.Add(bytes);
    }

    /// <summary>The big-endian bytes of a printed decimal field, or null when it does not fit.</summary>
    private static byte[]? Number(Group digits, uint max, int size)
    {
        if (!uint.TryParse(digits.ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > max)
            return null;
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes[(4 - size)..].ToArray();
    }

    private static ImmutableArray<byte>? WithNumbers(byte kind, byte length, params byte[]?[] fields) =>
        fields.Any(f => f is null) ? null : [kind, length, .. fields.SelectMany(f => f!)];

    private static ImmutableArray<byte>? Unknown(Group kind, Group payload)
    {
        if (Number(kind, byte.MaxValue, 1) is not [var k])
            return null;
        var data = payload.Success ? Convert.FromHexString(payload.ValueSpan) : [];
        return [k, (byte)(2 + data.Length), .. data];
    }

    // Exactly what tcpdump's print-tcp.c writes for these options; the payload fits a length byte.
    [GeneratedRegex(
        @"^(?:(?<nop>nop)|(?<eol>eol)|(?<sackok>sackOK)|mss (?<mss>[0-9]{1,5})|wscale (?<wscale>[0-9]{1,3})" +
        @"|TS val (?<tsval>[0-9]{1,10}) ecr (?<tsecr>[0-9]{1,10})" +
        @"|unknown-(?<kind>[0-9]{1,3})(?: 0x(?<payload>(?:[0-9a-fA-F]{2}){1,253}))?)\z",
        RegexOptions.CultureInvariant)]
    private static partial Regex Item();
}
