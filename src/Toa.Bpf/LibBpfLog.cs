// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toa.Bpf.Native;

namespace Toa.Bpf;

/// <summary>
/// libbpf's print callback, installed once per process: every message goes to
/// <see cref="Logger"/>, and while a <see cref="Capture"/> is open on the calling
/// thread it is also kept, so a failed load can carry libbpf's own words.
/// </summary>
public static unsafe class LibBpfLog
{
    private const int LevelWarn = 0, LevelInfo = 1;
    private const int MessageBufferSize = 16 * 1024;

    [ThreadStatic] private static List<string>? s_captured;
    [ThreadStatic] private static bool s_quiet;
    private static int s_installed;

    /// <summary>Where libbpf's messages go. Debug-level messages are libbpf's own debug output.</summary>
    public static ILogger Logger { get; set; } = NullLogger.Instance;

    internal static void EnsureInstalled()
    {
        if (Interlocked.Exchange(ref s_installed, 1) == 0)
            LibBpf.SetPrint(&Print);
    }

    /// <summary>Keeps what libbpf prints on this thread until disposed.</summary>
    internal static CaptureScope Capture()
    {
        EnsureInstalled();
        var previous = s_captured;
        s_captured = [];
        return new CaptureScope(previous);
    }

    /// <summary>
    /// Drops what libbpf prints on this thread until disposed: for calls whose failure is an answer
    /// (a query of an interface without a clsact qdisc), which libbpf reports as a kernel error all the same.
    /// </summary>
    internal static QuietScope Quiet()
    {
        EnsureInstalled();
        var previous = s_quiet;
        s_quiet = true;
        return new QuietScope(previous);
    }

    internal readonly struct QuietScope(bool previous) : IDisposable
    {
        public void Dispose() => s_quiet = previous;
    }

    internal readonly struct CaptureScope(List<string>? previous) : IDisposable
    {
        public IReadOnlyList<string> Messages => s_captured ?? [];
        public void Dispose() => s_captured = previous;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Print(int level, byte* format, nint args)
    {
        // The va_list is consumed by one vsnprintf; a message longer than the buffer is cut.
        var buffer = stackalloc byte[MessageBufferSize];
        var n = LibC.VsnPrintf(buffer, MessageBufferSize, format, args);
        if (n < 0)
            return 0;
        var text = Marshal.PtrToStringUTF8((nint)buffer, Math.Min(n, MessageBufferSize - 1)).TrimEnd('\n');
        s_captured?.Add(text);
        if (s_quiet)
            return n;
        var logLevel = level switch
        {
            LevelWarn => LogLevel.Warning,
            LevelInfo => LogLevel.Information,
            _ => LogLevel.Trace,
        };
        if (Logger.IsEnabled(logLevel))
            Logger.Log(logLevel, "{Message}", text);
        return n;
    }
}
