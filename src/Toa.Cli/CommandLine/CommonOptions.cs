// SPDX-License-Identifier: MIT
using System.CommandLine;

namespace Toa.Cli.CommandLine;

/// <summary>Options several commands share.</summary>
internal static class CommonOptions
{
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Print what is being done, libbpf's messages, and on a verifier rejection its whole log.",
        Recursive = true,
    };

    /// <summary>--json: the command prints one JSON object on one line instead of text, its members as <paramref name="shape"/> says.</summary>
    public static Option<bool> Json(string shape) => new("--json")
    {
        Description = $"Print one JSON object on one line instead of text: {shape}. Diagnostics stay on stderr.",
    };
}
