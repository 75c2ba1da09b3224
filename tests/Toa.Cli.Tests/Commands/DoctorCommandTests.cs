// SPDX-License-Identifier: MIT
namespace Toa.Cli.Tests.Commands;

public class DoctorCommandTests
{
    [Theory]
    [InlineData("--port", "0")]
    [InlineData("--port", "65536")]
    [InlineData("--port", "http")]
    [InlineData("--capture", "lo", "--seconds", "0")]
    [InlineData("--capture", "lo", "--seconds", "ten")]
    [InlineData("--capture", "no-such-interface0")]
    [InlineData("--seconds", "5")]
    [InlineData("--frobnicate")]
    public async Task Doctor_BadUsage_ExitsTwoWithOneLineAndNoFindings(params string[] args)
    {
        var (code, output, error) = await CliHarness.RunAsync(["doctor", .. args]);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("fail: toa[1] ", line);
        Assert.Contains(args[^1] == "5" ? "--capture" : args[^1], line);
        Assert.EndsWith(" Run 'toa doctor --help' for usage.", line);
    }

    [Fact]
    public async Task Doctor_Help_TeachesWithAnExample()
    {
        var (code, output, _) = await CliHarness.RunAsync("doctor", "--help");

        Assert.Equal(0, code);
        Assert.Contains("Example: toa doctor --port 8000 --capture eth0 --seconds 20", output);
        foreach (var option in new[] { "--port", "--capture", "--seconds", "--json", "--pin-dir" })
            Assert.Contains(option, output);
    }
}
