// SPDX-License-Identifier: MIT
namespace Toa.Wire;

/// <summary>What one entry of a scanned TCP options block is.</summary>
public enum TcpOptionType
{
    /// <summary>Kind 0, end of option list: scanning stops, what follows is padding.</summary>
    EndOfList,
    /// <summary>Kind 1, no-operation: one byte of alignment.</summary>
    NoOperation,
    /// <summary>Kind 2, length 4: maximum segment size (RFC 9293).</summary>
    MaximumSegmentSize,
    /// <summary>Kind 3, length 3: window scale (RFC 7323).</summary>
    WindowScale,
    /// <summary>Kind 4, length 2: SACK permitted (RFC 2018).</summary>
    SackPermitted,
    /// <summary>Kind 5, length 2 + 8 per block: selective acknowledgement (RFC 2018).</summary>
    Sack,
    /// <summary>Kind 8, length 10: timestamps (RFC 7323).</summary>
    Timestamps,
    /// <summary>Kind 28, length 4: user timeout (RFC 5482), which shares its kind with Alibaba CDN's TOA.</summary>
    UserTimeout,
    /// <summary>Kind 34: TCP Fast Open (RFC 7413), length 2 or 6 to 18 and even.</summary>
    FastOpen,
    /// <summary>
    /// Kind 254 with magic 0xF989: TCP Fast Open before its own kind (RFC 7413, RFC 6994), length 4 or
    /// 8 to 20 and even. Never a TOA, even at a DPVS layout's length.
    /// </summary>
    FastOpenExperimental,
    /// <summary>A TOA of an accepted layout with valid contents: <see cref="TcpOption.Address"/> holds it.</summary>
    Toa,
    /// <summary>
    /// The kind and length of a TOA layout outside the accepted set (<see cref="TcpOption.Layout"/>).
    /// Its contents are not checked: a receiver does not read them.
    /// </summary>
    ToaNotAccepted,
    /// <summary>A well-bounded option of a kind this scanner does not know.</summary>
    Unknown,
    /// <summary>
    /// Something wrong, named by <see cref="TcpOption.Problem"/>, that makes the whole block
    /// <see cref="ToaVerdict.Malformed"/>: a receiver uses nothing in it.
    /// </summary>
    Malformed,
}

/// <summary>Why an option is <see cref="TcpOptionType.Malformed"/>.</summary>
public enum TcpOptionProblem
{
    /// <summary>Nothing: the option is not malformed.</summary>
    None,
    /// <summary>The block ends right after the kind byte. Scanning stops.</summary>
    Truncated,
    /// <summary>A length byte of 0 or 1, smaller than the kind and length bytes. Scanning stops.</summary>
    LengthTooSmall,
    /// <summary>The length runs past the end of the block. Scanning stops.</summary>
    PastEnd,
    /// <summary>
    /// A known option other than a TOA with a length its specification forbids, e.g. MSS with
    /// length 5. The option keeps its type and the block is not malformed: its length is sound, so
    /// the walk goes on, and a receiver ignores it as Linux's TCP does.
    /// </summary>
    WrongLength,
    /// <summary>
    /// Kind 200 or 253, which only TOAs use, at a length no layout has. (Kind 254 is shared by
    /// RFC 6994 experiments and kind 28 by the user timeout option: at other lengths they are
    /// someone else's option, not a broken TOA.)
    /// </summary>
    NoLayoutForLength,
    /// <summary>An Alibaba CDN layout whose version byte is not <see cref="ToaAddress.AlibabaCdnVersion"/>.</summary>
    BadVersion,
    /// <summary>An address no TCP client can have (see <see cref="ToaAddress.IsPlausibleClient"/>).</summary>
    ImplausibleAddress,
}

/// <summary>One option of a scanned block, in the order it appears.</summary>
public readonly record struct TcpOption
{
    internal TcpOption(int offset, byte kind, int length, TcpOptionType type,
        TcpOptionProblem problem = TcpOptionProblem.None, ToaLayout? layout = null, ToaAddress? address = null)
    {
        Offset = offset;
        Kind = kind;
        Length = length;
        Type = type;
        Problem = problem;
        Layout = layout;
        Address = address;
    }

    /// <summary>Where the kind byte is, from the start of the options block.</summary>
    public int Offset { get; }

    /// <summary>The kind byte.</summary>
    public byte Kind { get; }

    /// <summary>
    /// The length byte; 1 for EOL and NOP, which have none; 0 when the block ends before it
    /// (<see cref="TcpOptionProblem.Truncated"/>).
    /// </summary>
    public int Length { get; }

    /// <summary>What the option is.</summary>
    public TcpOptionType Type { get; }

    /// <summary>Why the option is malformed; <see cref="TcpOptionProblem.None"/> otherwise.</summary>
    public TcpOptionProblem Problem { get; }

    /// <summary>The TOA layout the kind and length name, if any, accepted or not.</summary>
    public ToaLayout? Layout { get; }

    /// <summary>The client, for <see cref="TcpOptionType.Toa"/> only.</summary>
    public ToaAddress? Address { get; }
}
