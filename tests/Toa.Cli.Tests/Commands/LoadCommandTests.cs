// SPDX-License-Identifier: MIT
using Toa.Cli.Receiver;

namespace Toa.Cli.Tests.Commands;

public class LoadCommandTests
{
    [Theory]
    [InlineData("--formats", "akamai")]
    [InlineData("--formats", "200/9")]
    [InlineData("--trust", "10.0.0.1/8")]
    [InlineData("--trust", "10.0.0.0/33")]
    [InlineData("--trust", "example.com")]
    [InlineData("--nat64-peer", "both")]
    [InlineData("--netns", "/nonexistent-toa-test/ns")]
    [InlineData("--netns", "/proc/self/ns/uts")]
    [InlineData("--netns", "all", "--netns", "/proc/self/ns/net")]
    [InlineData("--connections", "0")]
    [InlineData("--connections", "many")]
    public async Task Load_BadInput_ExitsTwoWithOneLineNamingIt(params string[] args)
    {
        // A cgroup that does not exist: should the input pass, nothing could be attached.
        var (code, output, error) = await CliHarness.RunAsync(["load", "--cgroup", "/nonexistent-toa-test", .. args]);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("fail: toa[1] ", line);
        Assert.Contains(args[1], line);
        Assert.EndsWith(" Run 'toa load --help' for usage.", line);
    }

    [Theory]
    [InlineData("load")]
    [InlineData("unload")]
    [InlineData("status")]
    [InlineData("stats")]
    [InlineData("table")]
    [InlineData("log")]
    public async Task ReceiverCommand_Help_NamesThePinDirectoryDefault(string command)
    {
        var (code, output, _) = await CliHarness.RunAsync(command, "--help");

        Assert.Equal(0, code);
        Assert.Contains("--pin-dir", output);
        Assert.Contains("/sys/fs/bpf/toa", output);
    }

    [Theory]
    [InlineData("tencent", "200/8 253/20")]
    [InlineData("dpvs,200/8", "200/8 254/8 254/20")]
    [InlineData("default", "200/8 253/20 254/8 254/20")]
    [InlineData("all", "200/8 253/20 254/8 254/20 28/7 28/19 253/8")]
    [InlineData("ucloud, alibaba-cdn", "28/7 28/19 253/8")]
    public void ParseFormats_Names_TheirLayouts(string text, string expected)
    {
        var command = new System.CommandLine.RootCommand { new System.CommandLine.Option<Toa.Wire.ToaLayouts?>("--formats") { CustomParser = ReceiverCommandOptions.ParseFormats } };

        var parse = command.Parse(["--formats", text]);

        Assert.Empty(parse.Errors);
        Assert.Equal(expected, ReceiverCommandOptions.Describe(parse.GetValue<Toa.Wire.ToaLayouts?>("--formats")!.Value));
    }
}
