// SPDX-License-Identifier: MIT
namespace Toa.Cli.Tests.Commands;

public class ConnectCommandTests
{
    [Theory]
    [InlineData("10.0.0.2:8000", "--as", "203.0.113.x:4321")]
    [InlineData("10.0.0.2:8000", "--as", "203.0.113.7:0")]
    [InlineData("10.0.0.2:8000", "--as", "203.0.113.7:65536")]
    [InlineData("10.0.0.2:0", "--as", "203.0.113.7:4321")]
    [InlineData("10.0.0.2:65536", "--as", "203.0.113.7:4321")]
    [InlineData("10.0.0.2", "--as", "203.0.113.7:4321")]
    [InlineData("2001:db8::2:80", "--as", "203.0.113.7:4321")]
    [InlineData("10.0.0.2:8000", "--as", "2001:db8::7:2222")]
    [InlineData("10.0.0.2:8000", "--as", "203.0.113.7:4321", "--format", "akamai")]
    [InlineData("10.0.0.2:8000", "--as", "[2001:db8::7]:2222", "--format", "ucloud")]
    [InlineData("10.0.0.2:8000", "--as", "203.0.113.7:4321", "--in", "fin")]
    [InlineData("10.0.0.2:8000", "--as", "203.0.113.7:4321", "--timeout", "soon")]
    [InlineData("10.0.0.2:8000")]
    public async Task Connect_BadInput_ExitsTwoWithOneLineNamingIt(params string[] args)
    {
        var (code, output, error) = await CliHarness.RunAsync(["connect", .. args]);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("fail: toa[1] ", line);
        Assert.EndsWith(" Run 'toa connect --help' for usage.", line);
    }

    [Fact]
    public async Task Connect_BadPort_NamesThePort()
    {
        var (_, _, error) = await CliHarness.RunAsync("connect", "10.0.0.2:8000", "--as", "203.0.113.7:65536");

        Assert.Contains("port '65536' in '203.0.113.7:65536' is not between 1 and 65535", error);
    }

    [Fact]
    public async Task Connect_FormatCannotCarryFamily_SaysWhich()
    {
        var (_, _, error) = await CliHarness.RunAsync("connect", "10.0.0.2:8000", "--as", "[2001:db8::7]:2222", "-f", "ucloud");

        Assert.Contains("the ucloud format cannot carry an IPv6 client ([2001:db8::7]:2222)", error);
    }

    [Fact]
    public async Task Connect_OptionsOverForty_Refused()
    {
        var (code, _, error) = await CliHarness.RunAsync("connect", "10.0.0.2:8000",
            "--as", "[2001:db8::7]:1", "--as", "[2001:db8::8]:2", "--as", "[2001:db8::9]:3");

        Assert.Equal(2, code);
        Assert.Contains("60 bytes of TOA do not fit in the 40 bytes of TCP option space", error);
    }

    [Fact]
    public async Task Help_ListsCommands()
    {
        var (code, output, _) = await CliHarness.RunAsync("--help");

        Assert.Equal(0, code);
        Assert.Contains("connect", output);
    }
}
