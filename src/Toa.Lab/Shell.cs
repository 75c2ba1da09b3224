// SPDX-License-Identifier: MIT
using System.Diagnostics;

namespace Toa.Lab;

/// <summary>Runs a command to completion and fails loudly with its stderr.</summary>
public static class Shell
{
    /// <summary>Runs <paramref name="file"/> and returns stdout; throws with stderr on a non-zero exit.</summary>
    public static string Run(string file, params string[] args)
    {
        var result = TryRun(file, args);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {result.ExitCode}: {result.StandardError.Trim()}");
        return result.StandardOutput;
    }

    /// <summary>Runs <paramref name="file"/> and returns what happened.</summary>
    public static ProcessResult TryRun(string file, params string[] args)
    {
        using var process = Process.Start(StartInfo(file, args))
            ?? throw new InvalidOperationException($"{file}: could not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return new ProcessResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    internal static ProcessStartInfo StartInfo(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        return info;
    }
}

/// <summary>How a finished process ended and what it printed.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError);
