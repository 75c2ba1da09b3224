// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Toa.Lab;
using Toa.Testing;
using Xunit;

namespace Toa.EndToEnd.Tests.Package;

/// <summary>
/// A fresh Debian 12 root of the test's own (unpacked from the tarball <c>debian-root</c> caches)
/// with the package built by scripts/package copied in. Commands run chrooted with an empty
/// environment (no .NET on PATH, no DOTNET_* variables) and /proc, /sys and /dev bound in a mount
/// namespace of their own, which ends with the command: nothing is left mounted under the root,
/// so disposing removes it whatever happened.
/// </summary>
internal sealed class DebianRoot : IDisposable
{
    /// <summary>Where the package is inside the root.</summary>
    public const string Package = "/tmp/toa.deb";

    public DebianRoot()
    {
        KernelTest.Require("root (to chroot and load the receiver)");
        var deb = BuiltPackage();
        var tarball = Shell.Run(System.IO.Path.Join(CSamples.RepoRoot, "tests", "Toa.EndToEnd.Tests", "Package", "debian-root")).Trim();
        Path = Directory.CreateTempSubdirectory($"toa-debian-root-{Environment.ProcessId}-").FullName;
        try
        {
            Shell.Run("tar", "-C", Path, "-xf", tarball);
            File.Copy(deb, Join(Package));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The root's directory on the host.</summary>
    public string Path { get; }

    /// <summary>A path inside the root, as the host sees it.</summary>
    public string Join(string path) => System.IO.Path.Join(Path, path);

    /// <summary>Runs <paramref name="command"/> inside the root, as root, with PATH=/usr/sbin:/usr/bin:/sbin:/bin and nothing else.</summary>
    public ProcessResult Run(params string[] command) =>
        Shell.TryRun("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c",
            "for d in proc sys dev; do mount --rbind /$d \"$0/$d\" || exit 125; done; "
            + "exec chroot \"$0\" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \"$@\"",
            Path, .. command]);

    /// <summary>Runs <paramref name="script"/> with sh inside the root; fails the test when it fails.</summary>
    public string Sh(string script)
    {
        var result = Run("sh", "-c", script);
        Assert.True(result.ExitCode == 0, $"in the Debian root: {script}\nexit {result.ExitCode}\n{result.StandardOutput}{result.StandardError}");
        return result.StandardOutput;
    }

    /// <summary>
    /// Runs a line of an installed unit (ExecStart=, ExecStop=) as systemd would with its EnvironmentFile:
    /// sh splits the unquoted variables into words as systemd does with $NAME.
    /// </summary>
    public ProcessResult RunUnitLine(string unit, string key, string environmentFile)
    {
        var line = File.ReadLines(Join($"/lib/systemd/system/{unit}")).Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];
        return Run("sh", "-c", $"set -a; . {environmentFile}; set +a; exec {line}");
    }

    /// <summary>The package scripts/package built for this machine's architecture.</summary>
    private static string BuiltPackage()
    {
        var arch = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "arm64" : "amd64";
        var directory = System.IO.Path.Join(CSamples.RepoRoot, "artifacts", "deb");
        var deb = Directory.Exists(directory)
            ? Directory.EnumerateFiles(directory, $"toa_*_{arch}.deb").OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
            : null;
        if (deb is not null)
            return deb;
        var reason = $"needs the package in {directory} (scripts/package builds it; ./test.sh runs it first)";
        if (KernelTest.Required)
            Assert.Fail(reason);
        Assert.Skip(reason);
        return "";
    }

    public void Dispose()
    {
        // Mounts live in each command's own namespace; one seen here would make the removal reach the host's files.
        if (File.ReadAllText("/proc/self/mountinfo").Contains($" {Path}/", StringComparison.Ordinal))
            throw new InvalidOperationException($"{Path} has mounts under it; not removed");
        Directory.Delete(Path, recursive: true);
    }
}
