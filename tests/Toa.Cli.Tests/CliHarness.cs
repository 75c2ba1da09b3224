// SPDX-License-Identifier: MIT
using Toa.Cli.CommandLine;

namespace Toa.Cli.Tests;

/// <summary>Runs the CLI in process with captured output.</summary>
internal static class CliHarness
{
    public static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await CliRunner.RunAsync(Toa.Cli.RootCommandFactory.Create(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
