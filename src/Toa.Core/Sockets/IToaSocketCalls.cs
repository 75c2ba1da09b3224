// SPDX-License-Identifier: MIT
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Toa.Sockets;

/// <summary>The system calls <see cref="RealClientResolver"/> makes; tests put a fake in their place.</summary>
public interface IToaSocketCalls
{
    /// <summary>
    /// <c>getsockopt(fd, IPPROTO_IP, 4096, peer, &amp;len)</c> with a 20-byte buffer: 0 when it filled
    /// <paramref name="peer"/>, else the errno (ENOPROTOOPT: nothing in the kernel answers 4096).
    /// </summary>
    int GetNat64Peer(Socket socket, Span<byte> peer);
}

/// <summary>The real calls, through libc so a refusal costs an errno, not an exception.</summary>
public sealed partial class SystemSocketCalls : IToaSocketCalls
{
    /// <summary>The one instance.</summary>
    public static SystemSocketCalls Instance { get; } = new();

    private SystemSocketCalls()
    {
    }

    /// <inheritdoc />
    public int GetNat64Peer(Socket socket, Span<byte> peer)
    {
        var length = (uint)peer.Length;
        var ret = GetSockOpt((int)socket.Handle, ToaSocketOption.Level, ToaSocketOption.GetLookup, peer, ref length);
        return ret == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(int fd, int level, int name, Span<byte> value, ref uint length);
}
