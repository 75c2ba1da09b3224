// SPDX-License-Identifier: MIT
using System.CommandLine.Parsing;

namespace Toa.Cli.CommandLine;

/// <summary>For custom parsers: report a parse error in our words and give the parser something to return.</summary>
internal static class ArgumentErrors
{
    public static T Error<T>(ArgumentResult result, string message)
    {
        result.AddError(message);
        return default!;
    }
}
