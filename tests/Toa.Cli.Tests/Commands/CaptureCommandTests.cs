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
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith($"toa: capture file {_file}: ", lines[0]);
        Assert.Equal("Run 'toa capture --help' for usage.", lines[^1]);
    }

    [Fact]
    public async Task Capture_MissingFile_ExitsTwoSayingNotFound()
    {
        var (code, _, error) = await CliHarness.RunAsync("capture", "--read", _file);

        Assert.Equal(2, code);
        Assert.Equal($"toa: capture file {_file}: not found", error.Split('\n')[0]);
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
