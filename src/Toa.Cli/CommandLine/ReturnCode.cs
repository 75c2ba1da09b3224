// SPDX-License-Identifier: MIT
namespace Toa.Cli.CommandLine;

/// <summary>The exit codes every command uses.</summary>
public enum ReturnCode
{
    /// <summary>Done, nothing wrong.</summary>
    Ok = 0,
    /// <summary>The work failed (refused connection, kernel error, a problem found).</summary>
    Failure = 1,
    /// <summary>The command line was wrong: nothing was done.</summary>
    UsageError = 2,
    /// <summary><c>toa status</c>: the receiver is not loaded (LSB's "program is not running", as <c>systemctl status</c> exits).</summary>
    NotLoaded = 3,
}

/// <summary>
/// An anticipated error: printed as one line on stderr, no stack trace, and the
/// process exits with <see cref="Code"/>.
/// </summary>
public sealed class CliException(string message, ReturnCode code = ReturnCode.Failure) : Exception(message)
{
    /// <summary>The exit code.</summary>
    public ReturnCode Code { get; } = code;
}
