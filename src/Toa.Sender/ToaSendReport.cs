// SPDX-License-Identifier: MIT
namespace Toa.Sender;

/// <summary>What the sender did for one socket so far.</summary>
/// <param name="Requested">The placements asked for.</param>
/// <param name="Written">Placements that carried the options at least once.</param>
/// <param name="Refused">Placements where the options did not fit.</param>
/// <param name="OptionBytes">The options' total length.</param>
/// <param name="Packets">Packets that carried the options.</param>
public sealed record ToaSendReport(
    ToaPlacement Requested, ToaPlacement Written, ToaPlacement Refused, int OptionBytes, int Packets)
{
    /// <summary>Placements requested and settled by now that did not carry the options.</summary>
    public ToaPlacement Missing(ToaPlacement settled) => Requested & settled & ~Written;
}
