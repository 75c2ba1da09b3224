// SPDX-License-Identifier: MIT
namespace Toa.Cli.Doctor;

/// <summary>How bad a finding is.</summary>
internal enum Severity
{
    /// <summary>As it should be.</summary>
    Ok,
    /// <summary>Works, but worth a look (an empty trust list, no traffic to judge).</summary>
    Warning,
    /// <summary>Real client addresses do not reach the server, or will not: something to fix.</summary>
    Problem,
}

/// <summary>One thing a check found, in plain words, with the next step when something is wrong.</summary>
/// <param name="Check">The check's name: kernel, receiver, listener, trust, traffic.</param>
/// <param name="Severity">How bad it is.</param>
/// <param name="Message">What was found.</param>
/// <param name="NextStep">What to do about it (often the exact command), or null.</param>
internal sealed record Finding(string Check, Severity Severity, string Message, string? NextStep = null);
