// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Bpf;

/// <summary>A libbpf or bpf(2) call failed. The message names the object and keeps the cause.</summary>
public class BpfException : Exception
{
    /// <summary>Creates an exception for a failed call that returned <paramref name="errno"/>.</summary>
    public BpfException(string what, int errno, Exception? inner = null)
        : base($"{what}: {Describe(errno)}", inner)
    {
        Errno = errno;
    }

    /// <summary>Creates an exception whose message is <paramref name="message"/> as it is, for errors that explain themselves.</summary>
    private protected BpfException(int errno, string message)
        : base(message)
    {
        Errno = errno;
    }

    /// <summary>The positive errno of the failure.</summary>
    public int Errno { get; }

    /// <summary>strerror text plus a hint for errno values with a usual cause.</summary>
    public static string Describe(int errno)
    {
        var text = Marshal.GetPInvokeErrorMessage(errno);
        return errno switch
        {
            LinuxErrno.EPERM => $"{text} (loading BPF needs root or CAP_BPF plus CAP_NET_ADMIN)",
            LinuxErrno.ENOENT => $"{text} (nothing at that path or id)",
            _ => text,
        };
    }

    internal static int Check(int ret, string what)
    {
        if (ret < 0)
            throw new BpfException(what, -ret);
        return ret;
    }

    internal static nint CheckPointer(nint ptr, string what)
    {
        if (ptr == 0)
            throw new BpfException(what, Marshal.GetLastPInvokeError());
        return ptr;
    }
}

/// <summary>The errno values the project checks by name.</summary>
public static class LinuxErrno
{
    /// <summary>Operation not permitted.</summary>
    public const int EPERM = 1;
    /// <summary>No such file or directory (also: no such map element).</summary>
    public const int ENOENT = 2;
    /// <summary>Permission denied (the verifier's rejection).</summary>
    public const int EACCES = 13;
    /// <summary>File exists.</summary>
    public const int EEXIST = 17;
    /// <summary>Invalid argument.</summary>
    public const int EINVAL = 22;
    /// <summary>No space left (a log buffer or option space).</summary>
    public const int ENOSPC = 28;
    /// <summary>The kernel's internal "not supported", which bpf(2) lets out for commands a map type lacks.</summary>
    public const int ENOTSUPP = 524;
    /// <summary>Protocol not available (an unknown socket option).</summary>
    public const int ENOPROTOOPT = 92;
    /// <summary>Operation not supported.</summary>
    public const int EOPNOTSUPP = 95;
}

/// <summary>
/// The kernel rejected a program. Keeps the verifier's whole log and libbpf's own
/// messages; <see cref="Exception.Message"/> shows the last lines of the log.
/// </summary>
public sealed class VerifierException : BpfException
{
    private const int ShownLines = 4;

    /// <summary>Creates the exception for <paramref name="program"/> from its log.</summary>
    public VerifierException(string program, int errno, string log, IReadOnlyList<string> libbpfMessages)
        : base(Summarize(program, log), errno)
    {
        Program = program;
        Log = log;
        LibBpfMessages = libbpfMessages;
    }

    /// <summary>The program the verifier rejected.</summary>
    public string Program { get; }

    /// <summary>The verifier's log, whole.</summary>
    public string Log { get; }

    /// <summary>What libbpf printed while loading.</summary>
    public IReadOnlyList<string> LibBpfMessages { get; }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Message}{Environment.NewLine}-- verifier log --{Environment.NewLine}{Log}" +
        $"-- libbpf --{Environment.NewLine}{string.Join(Environment.NewLine, LibBpfMessages)}";

    private static string Summarize(string program, string log)
    {
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var tail = lines.TakeLast(ShownLines);
        var omitted = lines.Length > ShownLines ? $" ({lines.Length - ShownLines} earlier lines omitted)" : "";
        return $"program {program}: the verifier rejected it{omitted}:{Environment.NewLine}  " +
               string.Join(Environment.NewLine + "  ", tail);
    }
}
