// SPDX-License-Identifier: MIT
using System.Collections.Concurrent;
using Toa.Lab;

namespace Toa.Testing;

/// <summary>The C programs under samples/c, built with gcc once per test run.</summary>
public static class CSamples
{
    private static readonly ConcurrentDictionary<string, Lazy<string>> s_built = new();

    /// <summary>The repository's root (where toa.slnx is), found from the test's output directory.</summary>
    public static string RepoRoot { get; } = FindRoot();

    /// <summary>The path of the built sample <paramref name="name"/> (samples/c/NAME.c).</summary>
    public static string Build(string name) => s_built.GetOrAdd(name, n => new Lazy<string>(() => Compile(n))).Value;

    private static string Compile(string name)
    {
        var output = Path.Combine(Path.GetTempPath(), $"toa-samples-{Environment.ProcessId}");
        Directory.CreateDirectory(output);
        var binary = Path.Combine(output, name);
        Shell.Run("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", binary, Path.Combine(RepoRoot, "samples", "c", name + ".c"));
        return binary;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "toa.slnx")))
                return dir.FullName;
        throw new InvalidOperationException($"no toa.slnx above {AppContext.BaseDirectory}");
    }
}
