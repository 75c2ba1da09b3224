// SPDX-License-Identifier: MIT
using System.Diagnostics;

namespace Toa.Testing;

/// <summary>
/// Prometheus' own checker (<c>promtool check metrics</c>, Debian's prometheus package, installed by
/// scripts/prerequisites.sh): it parses the text format and lints names, types and HELP.
/// </summary>
public static class Promtool
{
    /// <summary>Checks <paramref name="exposition"/>; returns promtool's exit code and everything it said.</summary>
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string exposition)
    {
        var info = new ProcessStartInfo(ToolTest.Require("/usr/bin/promtool", "prometheus"), ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }
}
