// SPDX-License-Identifier: MIT
using System.Net;
using System.Text;

namespace Toa.Balancer.Scheduling;

/// <summary>
/// A 64-bit hash that is the same in every process and run (unlike <see cref="HashCode"/>), so
/// that every balancer sends a client to the same backend: FNV-1a, then a finalizer that
/// spreads FNV's weak low bits.
/// </summary>
internal static class StableHash
{
    public static ulong Hash(ReadOnlySpan<byte> data)
    {
        var h = 14695981039346656037UL;
        foreach (var b in data)
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return Mix(h);
    }

    public static ulong Hash(string text)
    {
        Span<byte> buffer = stackalloc byte[256];
        var bytes = Encoding.UTF8.GetByteCount(text) <= buffer.Length ? buffer : new byte[Encoding.UTF8.GetByteCount(text)];
        var length = Encoding.UTF8.GetBytes(text, bytes);
        return Hash(bytes[..length]);
    }

    /// <summary>The client's address only: its port changes with every connection.</summary>
    public static ulong Hash(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var length);
        return Hash(bytes[..length]);
    }

    /// <summary>
    /// The <paramref name="index"/>th of a stream of independent-looking values drawn from one
    /// hash (a SplitMix64 step), for ring points and Maglev permutations: re-hashing the key with
    /// a small seed would leave the values correlated across similar keys.
    /// </summary>
    public static ulong Derive(ulong hash, ulong index) => Mix(hash + (index + 1) * 0x9E3779B97F4A7C15UL);

    private static ulong Mix(ulong h)
    {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53UL;
        h ^= h >> 33;
        return h;
    }
}
