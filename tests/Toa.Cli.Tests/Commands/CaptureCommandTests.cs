// SPDX-License-Identifier: MIT
namespace Toa.Cli.Tests.Commands;

public sealed class CaptureCommandTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"toa-capture-{Guid.NewGuid():N}.pcap");

    public void Dispose() => File.Delete(_file);

    [Fact]
    public async Task Capture_NotACaptureFile_ExitsTwoNamingTheFile()
    {
        await File.WriteAllTextAsync(_file, "not a capture\n");

        var (code, output, error) = await CliHarness.RunAsync("capture", "--read", _file);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"fail: toa[1] capture file {_file}: ", line);
        Assert.EndsWith(" Run 'toa capture --help' for usage.", line);
    }

    [Fact]
    public async Task Capture_MissingFile_ExitsTwoSayingNotFound()
    {
        var (code, _, error) = await CliHarness.RunAsync("capture", "--read", _file);

        Assert.Equal(2, code);
        Assert.Equal($"fail: toa[1] capture file {_file}: not found Run 'toa capture --help' for usage.", error.Split('\n')[0]);
    }

    [Theory]
    [InlineData("one of the two")]
    [InlineData("one of the two", "--read", "x.pcap", "--interface", "eth0")]
    [InlineData("--seconds needs --interface", "--read", "x.pcap", "--seconds", "3")]
    [InlineData("--count must be a positive number", "--read", "x.pcap", "--count", "0")]
    public async Task Capture_BadInput_ExitsTwoWithOneLineNamingIt(string expected, params string[] args)
    {
        var (code, output, error) = await CliHarness.RunAsync(["capture", .. args]);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains(expected, error.Split('\n')[0]);
    }
}
