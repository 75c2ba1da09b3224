// SPDX-License-Identifier: MIT
namespace Toa.Wire;

/// <summary>
/// What a receiver concludes from one options block. The values are the kernel parser's
/// (enum toa_verdict, bpf/receiver.h), so the two can be compared.
/// </summary>
public enum ToaVerdict
{
    /// <summary>No honoured TOA: the true peer stays.</summary>
    None = 0,
    /// <summary>Exactly one honoured TOA, and nothing in the block spoils it.</summary>
    Found = 1,
    /// <summary>The block is broken or carries two honoured TOAs: nothing in it is used.</summary>
    Malformed = 2,
}
