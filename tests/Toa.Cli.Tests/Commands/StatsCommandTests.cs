// SPDX-License-Identifier: MIT
namespace Toa.Cli.Tests.Commands;

public class StatsCommandTests
{
    [Theory]
    [InlineData("--interval needs --watch", "--interval", "2s")]
    [InlineData("'soon' is not a duration", "--watch", "--interval", "soon")]
    [InlineData("'0s' is not a duration", "--watch", "--interval", "0s")]
    public async Task Stats_BadInput_ExitsTwoWithOneLineNamingIt(string expected, params string[] args)
    {
        var (code, output, error) = await CliHarness.RunAsync(["stats", "--pin-dir", "/nonexistent-toa-test", .. args]);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains(expected, error.Split('\n')[0]);
    }

    [Fact]
    public async Task Stats_NotLoaded_ExitsOneSayingSo()
    {
        var (code, _, error) = await CliHarness.RunAsync("stats", "--watch", "--pin-dir", "/nonexistent-toa-test");

        Assert.Equal(1, code);
        Assert.Equal("fail: toa[2] TOA is not loaded (nothing pinned at /nonexistent-toa-test)", error.Trim());
    }
}
