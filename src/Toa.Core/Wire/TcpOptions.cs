// SPDX-License-Identifier: MIT
using System.Collections.Immutable;

namespace Toa.Wire;

/// <summary>Reads a TCP options block the way a receiver must: every length checked, nothing guessed.</summary>
public static class TcpOptions
{
    /// <summary>
    /// Lists every option of <paramref name="block"/>, the bytes after the 20-byte fixed TCP header
    /// (at most 40 on the wire; longer input is scanned as given), and concludes what a receiver
    /// believes by docs/receiver.md's "Parsing rules", the kernel parser's rules too. Scanning stops at
    /// EOL, whose padding may hold stale bytes, and at a length that cannot be trusted (0 or 1, past
    /// the end, missing): nothing after it is reported. A malformed option with a sound length is
    /// listed and scanning goes on. Never throws.
    /// </summary>
    /// <param name="block">The options block, kind byte of the first option first.</param>
    /// <param name="accepted">The TOA layouts a receiver honours; others are listed as
    /// <see cref="TcpOptionType.ToaNotAccepted"/>.</param>
    public static TcpOptionScan Scan(ReadOnlySpan<byte> block, ToaLayouts accepted = ToaLayouts.Default)
    {
        var options = ImmutableArray.CreateBuilder<TcpOption>();
        var offset = 0;
        while (offset < block.Length)
        {
            var kind = block[offset];
            if (kind is 0 or 1)
            {
                options.Add(new TcpOption(offset, kind, 1, kind == 0 ? TcpOptionType.EndOfList : TcpOptionType.NoOperation));
                if (kind == 0)
                    break;
                offset++;
                continue;
            }
            var problem = offset + 1 == block.Length ? TcpOptionProblem.Truncated
                : block[offset + 1] < 2 ? TcpOptionProblem.LengthTooSmall
                : offset + block[offset + 1] > block.Length ? TcpOptionProblem.PastEnd
                : TcpOptionProblem.None;
            if (problem != TcpOptionProblem.None)
            {
                var length = problem == TcpOptionProblem.Truncated ? 0 : block[offset + 1];
                options.Add(new TcpOption(offset, kind, length, TcpOptionType.Malformed, problem));
                break;
            }
            var option = block.Slice(offset, block[offset + 1]);
            options.Add(Classify(offset, option, accepted));
            offset += option.Length;
        }
        return new TcpOptionScan(options.ToImmutable(), accepted);
    }

    /// <summary>Classifies one option whose length byte has been checked and is exactly its span.</summary>
    private static TcpOption Classify(int offset, ReadOnlySpan<byte> option, ToaLayouts accepted)
    {
        var kind = option[0];
        var length = option.Length;
        if (ToaAddress.IsFastOpen(option))
            return Known(offset, kind, length, TcpOptionType.FastOpenExperimental);
        if (ToaLayoutInfo.TryFind(kind, option[1], out var layout))
        {
            if ((accepted & layout.AsSet()) == 0)
                return new TcpOption(offset, kind, length, TcpOptionType.ToaNotAccepted, layout: layout);
            var problem = ToaAddress.Read(layout, option, out var address);
            return problem == TcpOptionProblem.None
                ? new TcpOption(offset, kind, length, TcpOptionType.Toa, layout: layout, address: address)
                : new TcpOption(offset, kind, length, TcpOptionType.Malformed, problem, layout);
        }
        var type = kind switch
        {
            2 => TcpOptionType.MaximumSegmentSize,
            3 => TcpOptionType.WindowScale,
            4 => TcpOptionType.SackPermitted,
            5 => TcpOptionType.Sack,
            8 => TcpOptionType.Timestamps,
            28 => TcpOptionType.UserTimeout,
            34 => TcpOptionType.FastOpen,
            _ => TcpOptionType.Unknown,
        };
        if (type == TcpOptionType.Unknown && ToaLayoutInfo.IsToaOnlyKind(kind))
            return new TcpOption(offset, kind, length, TcpOptionType.Malformed, TcpOptionProblem.NoLayoutForLength);
        return Known(offset, kind, length, type);
    }

    /// <summary>A known option, flagged <see cref="TcpOptionProblem.WrongLength"/> when its specification forbids its length.</summary>
    private static TcpOption Known(int offset, byte kind, int length, TcpOptionType type)
    {
        var fits = type switch
        {
            TcpOptionType.MaximumSegmentSize or TcpOptionType.UserTimeout => length == 4,
            TcpOptionType.WindowScale => length == 3,
            TcpOptionType.SackPermitted => length == 2,
            TcpOptionType.Sack => length >= 10 && (length - 2) % 8 == 0,
            TcpOptionType.Timestamps => length == 10,
            TcpOptionType.FastOpen => length == 2 || IsCookieLength(length - 2),
            TcpOptionType.FastOpenExperimental => length == 4 || IsCookieLength(length - 4),
            _ => true,
        };
        return fits
            ? new TcpOption(offset, kind, length, type)
            : new TcpOption(offset, kind, length, type, TcpOptionProblem.WrongLength);
    }

    // RFC 7413 §4.1.1: a cookie is 4 to 16 bytes and the option's length is even.
    private static bool IsCookieLength(int cookie) => cookie is >= 4 and <= 16 && cookie % 2 == 0;
}

/// <summary>The result of <see cref="TcpOptions.Scan"/>: every option in order, and what a receiver takes from them.</summary>
public sealed class TcpOptionScan
{
    internal TcpOptionScan(ImmutableArray<TcpOption> options, ToaLayouts accepted)
    {
        Options = options;
        Accepted = accepted;
        Addresses = [.. options.Where(o => o.Address is not null).Select(o => o.Address!.Value)];
        Matched = Addresses.Aggregate(ToaLayouts.None, (set, a) => set | a.Layout.AsSet());
        HasMalformed = options.Any(o => o.Type == TcpOptionType.Malformed);
        var ofAcceptedLayouts = options.Where(o => o.Layout is { } l && (accepted & l.AsSet()) != 0).ToArray();
        HasDuplicates = ofAcceptedLayouts.Length > 1;
        Verdict = HasMalformed || HasDuplicates ? ToaVerdict.Malformed
            : ofAcceptedLayouts.Length == 1 ? ToaVerdict.Found
            : ToaVerdict.None;
        Selected = Verdict == ToaVerdict.Found ? ofAcceptedLayouts[0].Address : null;
    }

    /// <summary>
    /// What a receiver concludes from the block (docs/receiver.md, "Parsing rules"), as the kernel's
    /// parser does: <see cref="ToaVerdict.Malformed"/> when an option is
    /// <see cref="TcpOptionType.Malformed"/> or two options have an honoured layout;
    /// <see cref="ToaVerdict.Found"/> with exactly one; else <see cref="ToaVerdict.None"/>.
    /// </summary>
    public ToaVerdict Verdict { get; }

    /// <summary>Every option up to and including EOL or the first untrustworthy length, in order.</summary>
    public ImmutableArray<TcpOption> Options { get; }

    /// <summary>The layouts the scan honoured.</summary>
    public ToaLayouts Accepted { get; }

    /// <summary>Every valid TOA of an accepted layout, in order.</summary>
    public ImmutableArray<ToaAddress> Addresses { get; }

    /// <summary>The layouts of <see cref="Addresses"/>.</summary>
    public ToaLayouts Matched { get; }

    /// <summary>Whether any option is <see cref="TcpOptionType.Malformed"/>.</summary>
    public bool HasMalformed { get; }

    /// <summary>
    /// Whether more than one option has an accepted layout, valid or not: a load balancer writes one,
    /// so a second one is a forgery, a stale copy or a misconfigured chain of balancers.
    /// </summary>
    public bool HasDuplicates { get; }

    /// <summary>
    /// The client a receiver uses: the one honoured TOA when <see cref="Verdict"/> is
    /// <see cref="ToaVerdict.Found"/>, else null. A receiver never picks one of two TOAs, nor falls
    /// back to a good TOA in a block that also carries a bad one.
    /// </summary>
    public ToaAddress? Selected { get; }
}
