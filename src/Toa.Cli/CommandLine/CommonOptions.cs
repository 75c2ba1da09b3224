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
}
