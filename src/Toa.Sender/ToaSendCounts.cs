// SPDX-License-Identifier: MIT
using System.Net;

namespace Toa.Sender;

/// <summary>
/// Connections counted in one slot once their handshake settled (enum toa_send_outcome): the
/// options went out in every requested handshake placement, a placement had no room for them,
/// or a handshake placement went out without them. <paramref name="InStorage"/> counts, at
/// connect(), those whose state stayed in socket storage (about 400 bytes, not 128) because
/// the connections map was full.
/// </summary>
public readonly record struct ToaSendCounts(long Written, long NoRoom, long Missing, long InStorage = 0)
{
    /// <summary>Connections that went without the options.</summary>
    public long Failed => NoRoom + Missing;
}

/// <summary>Why a connection went without its options.</summary>
public enum ToaSendFailureKind
{
    /// <summary>A placement had no room for them.</summary>
    NoRoom = 1,
    /// <summary>A handshake placement went out without them.</summary>
    Missing = 2,
}

/// <summary>The last connection of a slot that went without its options.</summary>
/// <param name="Local">The connection's own address.</param>
/// <param name="Remote">Where it connected.</param>
/// <param name="Kind">Why.</param>
/// <param name="Placements">The placements at fault.</param>
/// <param name="OptionBytes">The options' total length.</param>
public sealed record ToaSendFailure(IPEndPoint Local, IPEndPoint Remote, ToaSendFailureKind Kind, ToaPlacement Placements, int OptionBytes)
{
    /// <summary>What happened, as a clause: "no room for 20 bytes of TOA in the syn".</summary>
    public string Reason => Kind == ToaSendFailureKind.NoRoom
        ? $"no room for {OptionBytes} bytes of TOA in the {ToaPlacementNames.Format(Placements)}"
        : $"the {ToaPlacementNames.Format(Placements)} went out without the TOA";
}
