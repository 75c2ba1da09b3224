// SPDX-License-Identifier: MIT
using System.CommandLine;
using Microsoft.Extensions.Logging;
using Toa.Bpf;
using Toa.Cli.CommandLine;
using Toa.Lab;
using Toa.Testing;

namespace Toa.Cli.Tests.Commands;

public class LoggingTests
{
    [Fact]
    public void Log_UnderJournal_SystemdPriorityCategoryAndEventId()
    {
        var error = new StringWriter();
        using (var logging = Logging.Create(error, verbose: false, LogLevel.Warning, journal: true))
        {
            var log = logging.CreateLogger(Logging.Category);
            log.LogError(new EventId(7, "Broken"), "it broke");
            log.LogWarning(new EventId(8), "it bent");
        }

        Assert.Equal(["<3>toa[7] it broke", "<4>toa[8] it bent"], Lines(error));
    }

    [Fact]
    public void Log_Otherwise_LevelCategoryAndEventIdOnOneLine()
    {
        var error = new StringWriter();
        using (var logging = Logging.Create(error, verbose: false, LogLevel.Warning, journal: false))
        {
            var log = logging.CreateLogger(Logging.Category);
            log.LogError(new EventId(7), "it broke\non two lines");
            log.LogInformation(new EventId(9), "not shown below the level");
        }

        Assert.Equal(["fail: toa[7] it broke on two lines"], Lines(error));
    }

    [Fact]
    public void Log_Verbose_DebugShown()
    {
        var error = new StringWriter();
        using (var logging = Logging.Create(error, verbose: true, LogLevel.Warning, journal: false))
            logging.CreateLogger("libbpf").LogDebug(new EventId(0), "libbpf says");

        Assert.Equal(["dbug: libbpf[0] libbpf says"], Lines(error));
    }

    [Theory]
    [InlineData("8:123456", true)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void UnderJournal_JournalStream_Detected(string? value, bool expected) =>
        Assert.Equal(expected, Logging.UnderJournal(value));

    [Fact]
    public void Run_JournalStreamSet_ErrorsCarryTheirPriorityAndOutputStaysPlain()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"toa-missing-{Guid.NewGuid():N}.json");
        var command = ToaCli.Command("lb", "check", "--config", missing);

        var result = Shell.TryRun("env", ["JOURNAL_STREAM=8:1", .. command]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.StandardOutput);
        Assert.StartsWith($"<3>toa[6] {missing}: ", result.StandardError);
    }

    [Fact]
    public async Task Run_UsageError_OneLineWithLevelEventIdAndTheHint()
    {
        var (code, output, error) = await CliHarness.RunAsync("lb", "check");

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Equal(["fail: toa[1] Option '--config' is required. Run 'toa lb check --help' for usage."], Lines(error));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Run_VerifierRejection_TheSummaryAndWithVerboseEveryLogLine(bool verbose)
    {
        var root = new RootCommand { CommonOptions.Verbose };
        root.SetAction(int (_) => throw new VerifierException("toa_sock_ops", 13, "0: r1 = 0\n1: exit\nR0 !read_ok\n", ["libbpf: prog 'toa_sock_ops': failed"]));
        var output = new StringWriter();
        var error = new StringWriter();

        var code = await CliRunner.RunAsync(root, verbose ? ["--verbose"] : [], output, error);

        Assert.Equal(1, code);
        var lines = Lines(error);
        if (!verbose)
        {
            var line = Assert.Single(lines);
            Assert.StartsWith("fail: toa[3] program toa_sock_ops: the verifier rejected it", line);
            Assert.EndsWith(" Run again with --verbose for the verifier's whole log.", line);
            return;
        }
        Assert.StartsWith("fail: toa[2] program toa_sock_ops: the verifier rejected it", lines[0]);
        Assert.Equal(["dbug: toa[4] 0: r1 = 0", "dbug: toa[4] 1: exit", "dbug: toa[4] R0 !read_ok", "dbug: toa[4] libbpf: prog 'toa_sock_ops': failed"],
            lines[1..]);
    }

    private static string[] Lines(object text) => text.ToString()!.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
