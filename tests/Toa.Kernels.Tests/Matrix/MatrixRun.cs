// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Xml.Linq;
using Toa.Testing;

namespace Toa.Kernels.Tests.Matrix;

/// <summary>
/// One run of tests/kernels/run for every emulated kernel (the guests boot side by side),
/// shared by the tests that read its results. This machine's kernel is not in it: the
/// end-to-end tests of the same suite run on the host already.
/// </summary>
internal sealed class MatrixRun
{
    public static readonly string[] Kernels = ["5.10", "6.1"];

    private const int CannotRunHere = 77;
    private static readonly Lazy<Task<MatrixRun>> s_run = new(() => Task.Run(RunAsync));

    private MatrixRun(string output, int exitCode, string log)
    {
        Output = output;
        ExitCode = exitCode;
        Log = log;
    }

    /// <summary>The results directory (tests/kernels/run --out).</summary>
    public string Output { get; }

    public int ExitCode { get; }

    /// <summary>What the harness printed: progress, timings, a failure's reason.</summary>
    public string Log { get; }

    /// <summary>The run, started by the first caller; skips (or fails when required) where qemu cannot run.</summary>
    public static async Task<MatrixRun> GetAsync()
    {
        var run = await s_run.Value;
        if (run.ExitCode == CannotRunHere)
        {
            var reason = run.Log.Trim();
            if (KernelTest.Required)
                Assert.Fail($"TOA_REQUIRE_KERNEL_TESTS=1 but the kernel matrix cannot run: {reason}");
            Assert.Skip(reason);
        }
        return run;
    }

    public KernelResult Kernel(string name) => new(name, Path.Combine(Output, name), Log);

    private static async Task<MatrixRun> RunAsync()
    {
        var root = RepositoryRoot();
        var output = Path.Combine(root, "artifacts", "kernels");
        var info = new ProcessStartInfo(Path.Combine(root, "tests", "kernels", "run"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The suite was built before it started.
        foreach (var a in (string[])["--no-build", "--out", output, .. Kernels])
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new MatrixRun(output, process.ExitCode, await stdout + await stderr);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "toa.slnx")))
                return dir.FullName;
        throw new InvalidOperationException($"no toa.slnx above {AppContext.BaseDirectory}");
    }
}

/// <summary>One kernel's results: its verdict, its tests as the guest's xunit reported them, its console.</summary>
internal sealed class KernelResult(string name, string directory, string harnessLog)
{
    public string Name => name;

    /// <summary>The harness's verdict: "pass: N tests" or "fail: why".</summary>
    public string Verdict => ReadOrEmpty("verdict").Trim();

    public string Release => ReadOrEmpty("release").Trim();

    /// <summary>Every test the guest ran, from each case's xunit XML.</summary>
    public IReadOnlyList<GuestTest> Tests =>
        [.. Directory.Exists(directory)
            ? Directory.EnumerateFiles(directory, "*.xml").SelectMany(GuestTest.Read)
            : []];

    /// <summary>What to show when the kernel failed: the failed tests in the guest's words, then how the guest ended.</summary>
    public string FailureReport(Func<GuestTest, bool> counts)
    {
        var failed = Tests.Where(t => counts(t) && t.Result != "Pass").ToList();
        var lines = new List<string> { $"kernel {name} ({Release}): {Verdict}" };
        foreach (var t in failed)
            lines.Add($"--- {t.Name}: {t.Result}{Environment.NewLine}{t.Message}{Environment.NewLine}{t.StackTrace}".TrimEnd());
        lines.Add("--- cases (name, exit code, seconds)");
        lines.Add(ReadOrEmpty("cases.tsv").TrimEnd());
        lines.Add("--- the guest's console, last lines");
        lines.AddRange(ReadOrEmpty("console.log").Split('\n').TakeLast(40));
        lines.Add("--- the harness");
        lines.Add(harnessLog.TrimEnd());
        return string.Join(Environment.NewLine, lines);
    }

    private string ReadOrEmpty(string file)
    {
        var path = Path.Combine(directory, file);
        return File.Exists(path) ? File.ReadAllText(path) : "";
    }
}

/// <summary>A test as the guest's xunit XML reports it.</summary>
internal sealed record GuestTest(string Name, string Result, string Message, string StackTrace)
{
    public static IEnumerable<GuestTest> Read(string xmlFile)
    {
        XDocument doc;
        try
        {
            doc = XDocument.Load(xmlFile);
        }
        catch (System.Xml.XmlException)
        {
            // A guest stopped mid-write leaves a partial file; its console tells what happened.
            yield break;
        }
        foreach (var test in doc.Descendants("test"))
        {
            var failure = test.Element("failure");
            yield return new GuestTest(
                (string?)test.Attribute("name") ?? "?",
                (string?)test.Attribute("result") ?? "?",
                failure?.Element("message")?.Value ?? test.Element("reason")?.Value ?? "",
                failure?.Element("stack-trace")?.Value ?? "");
        }
    }
}
