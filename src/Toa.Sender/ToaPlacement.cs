// SPDX-License-Identifier: MIT
namespace Toa.Sender;

/// <summary>Which packets of a connection carry the TOA (enum toa_placement).</summary>
[Flags]
public enum ToaPlacement
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>The SYN. Only 20 bytes are left there once MSS, SACK, timestamps and window scale are in.</summary>
    Syn = 1 << 0,
    /// <summary>The ACK that completes the handshake: where toa.ko and our receiver look.</summary>
    Ack = 1 << 1,
    /// <summary>Data segments until the server acknowledges data (retransmissions included).</summary>
    Data = 1 << 2,
    /// <summary>The default: the handshake ACK and the first data.</summary>
    Default = Ack | Data,
}

/// <summary>Names of placements as users type them: syn, ack, data.</summary>
public static class ToaPlacementNames
{
    /// <summary>Parses a comma-separated list such as "ack,data"; false on an unknown or empty name.</summary>
    public static bool TryParse(string text, out ToaPlacement placement, out string? bad)
    {
        placement = ToaPlacement.None;
        bad = null;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var one = part.ToLowerInvariant() switch
            {
                "syn" => ToaPlacement.Syn,
                "ack" => ToaPlacement.Ack,
                "data" => ToaPlacement.Data,
                _ => ToaPlacement.None,
            };
            if (one == ToaPlacement.None)
            {
                bad = part;
                return false;
            }
            placement |= one;
        }
        return true;
    }

    /// <summary>"syn,ack,data" style text.</summary>
    public static string Format(ToaPlacement placement) =>
        string.Join(',', new[] { (ToaPlacement.Syn, "syn"), (ToaPlacement.Ack, "ack"), (ToaPlacement.Data, "data") }
            .Where(p => placement.HasFlag(p.Item1)).Select(p => p.Item2));
}
