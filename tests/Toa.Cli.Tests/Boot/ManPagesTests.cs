// SPDX-License-Identifier: MIT
using Toa.Cli.Boot;
using Toa.Lab;
using Toa.Testing;

namespace Toa.Cli.Tests.Boot;

/// <summary>The manual pages the package installs, made from the command tree's help; man(1) is the oracle for the markup.</summary>
public sealed class ManPagesTests : IDisposable
{
    private static readonly IReadOnlyDictionary<string, string> s_pages =
        ManPages.Render(RootCommandFactory.Create(), "1.2.3").ToDictionary(p => p.FileName, p => p.Text);

    private readonly string _directory = Directory.CreateTempSubdirectory("toa-man-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Render_EveryCommandButHiddenOnes_HasAPage()
    {
        Assert.Contains("toa.1", s_pages.Keys);
        Assert.Contains("toa-load.1", s_pages.Keys);
        Assert.Contains("toa-lb-check.1", s_pages.Keys);
        Assert.DoesNotContain("toa-package-files.1", s_pages.Keys);
        var lb = RootCommandFactory.Create().Subcommands.Single(c => c.Name == "lb");
        Assert.Equal(RootCommandFactory.Create().Subcommands.Count(c => !c.Hidden) + 1 + lb.Subcommands.Count, s_pages.Count);
        Assert.Contains("toa-lb-reload.1", s_pages.Keys);
    }

    [Fact]
    public void Render_Load_NamesTheCommandAndEveryOptionWithItsHelp()
    {
        var page = Man("toa-load.1");

        Assert.Contains("toa-load - Load the receiver", page);
        Assert.Contains("toa load [OPTIONS]", page);
        Assert.Contains("Example: toa load --trust 10.0.0.0/8", page);
        foreach (var option in new[] { "--force", "--cgroup PATH", "--formats FORMATS", "--trust CIDR", "--netns PATH|all", "--pin-dir DIR", "-v, --verbose", "-h, -?, --help" })
            Assert.Contains($"       {option}\n", page);
    }

    [Fact]
    public void Render_Lb_KeepsEachExampleOnALineAndListsItsSubcommands()
    {
        var page = Man("toa-lb.1");

        Assert.Contains("\n           toa lb --config lb.json --threads 2 --user toa\n", page);
        Assert.Contains("toa lb COMMAND", page.Replace("[COMMAND]", "COMMAND", StringComparison.Ordinal));
        Assert.Contains("See toa-lb-drain(1).", page.Replace("\n", " ", StringComparison.Ordinal).Replace("  ", " ", StringComparison.Ordinal));
    }

    [Fact]
    public void Render_EveryPage_ManReportsNoWarnings()
    {
        ToolTest.Require("/usr/bin/man", "man-db");
        foreach (var name in s_pages.Keys)
        {
            var path = Path.Join(_directory, name);
            File.WriteAllText(path, s_pages[name]);
            // As lintian checks manual pages.
            var result = Shell.TryRun("env", "LC_ALL=C.UTF-8", "MANWIDTH=80", "man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path);
            Assert.True(result.ExitCode == 0 && result.StandardError == "", $"{name}: {result.StandardError}");
        }
    }

    // The page as man shows it, on 80 columns, without bold or underlining.
    private string Man(string name)
    {
        ToolTest.Require("/usr/bin/man", "man-db");
        var path = Path.Join(_directory, name);
        File.WriteAllText(path, s_pages[name]);
        return Shell.Run("sh", "-c", "MANWIDTH=200 man -E UTF-8 -l \"$0\" | col -bx", path);
    }
}
