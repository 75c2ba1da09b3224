// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Balancer.Relay;

/// <summary>
/// The system calls the relay makes itself (Linux): epoll, non-blocking sockets, splice and pipes.
/// Each returns what the call returns; the errno is in <see cref="Marshal.GetLastPInvokeError"/>.
/// </summary>
internal static unsafe partial class Libc
{
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int ECONNABORTED = 103;
    public const int EINPROGRESS = 115;

    public const int SockNonBlock = 0x800;     // SOCK_NONBLOCK, O_NONBLOCK
    public const int SockCloseOnExec = 0x80000; // SOCK_CLOEXEC, O_CLOEXEC, EPOLL_CLOEXEC, EFD_CLOEXEC

    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;
    public const uint EpollIn = 0x001;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollRdHup = 0x2000;
    public const uint EpollExclusive = 1u << 28;
    public const uint EpollEdge = 1u << 31;

    public const int SolSocket = 1;
    public const int SoError = 4;
    public const int SoLinger = 13;
    public const int IpProtoTcp = 6;
    public const int TcpNoDelay = 1;
    public const int ShutWrite = 1;
    public const int ShutBoth = 2;
    public const int MsgDontWait = 0x40;
    public const int MsgNoSignal = 0x4000;   // a send to a reset peer returns EPIPE instead of raising SIGPIPE
    public const ulong FionBio = 0x5421;

    public const int RlimitNoFile = 7; // RLIMIT_NOFILE

    public const uint SpliceMove = 1;
    public const uint SpliceNonBlock = 2;

    /// <summary>
    /// struct epoll_event: { u32 events; u64 data; }, packed on x86-64 (12 bytes) and naturally
    /// aligned elsewhere (16 bytes).
    /// </summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    public static int EpollDataOffset => EpollEventSize - 8;

    public static int Errno => Marshal.GetLastPInvokeError();

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollCtl(int epoll, int op, int fd, byte* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epoll, byte* events, int max, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    public static partial int Accept(int fd, byte* address, int* length, int flags);

    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    public static partial int Connect(int fd, byte* address, int length);

    [LibraryImport("libc", EntryPoint = "getsockname", SetLastError = true)]
    public static partial int GetSockName(int fd, byte* address, int* length);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static partial nint Receive(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    public static partial nint Send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nuint length);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint length);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSocketOption(int fd, int level, int name, void* value, int* length);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSocketOption(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, int* argument);

    [LibraryImport("libc", EntryPoint = "splice", SetLastError = true)]
    public static partial nint Splice(int fdIn, nint offIn, int fdOut, nint offOut, nuint length, uint flags);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe(int* fds, int flags);

    /// <summary>getrlimit: <paramref name="limits"/> is struct rlimit, { rlim_t cur; rlim_t max; } (64-bit each).</summary>
    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    public static partial int GetResourceLimit(int resource, ulong* limits);

    /// <summary>setsockopt with an int value.</summary>
    public static int SetSocketOption(int fd, int level, int name, int value) => SetSocketOption(fd, level, name, &value, sizeof(int));

    /// <summary>SO_LINGER on, zero seconds: close sends a RST.</summary>
    public static void SetAbortiveClose(int fd)
    {
        var linger = stackalloc int[2] { 1, 0 };
        SetSocketOption(fd, SolSocket, SoLinger, linger, 2 * sizeof(int));
    }
}
