// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;
using Toa.Receiver;

namespace Toa.Cli.Tests.Receiver;

public class ReceiverLoadOptionsTests
{
    private static ReceiverOptions Parse(params string[] arguments)
    {
        var parse = RootCommandFactory.Create().Parse(["load", .. arguments]);
        Assert.Empty(parse.Errors);
        return ReceiverLoadOptions.From(parse);
    }

    [Fact]
    public void From_NoNetns_HonoursTheLoadersNamespaceOnly()
    {
        Assert.Equal([NetworkNamespace.Current], Parse().Namespaces);
    }

    [Fact]
    public void From_NetnsAll_HonoursEveryNamespace()
    {
        Assert.Null(Parse("--netns", "all").Namespaces);
    }

    [Fact]
    public void From_NetnsRepeated_KeepsEveryPathInOrder()
    {
        Assert.Equal(["/proc/thread-self/ns/net", "/proc/self/ns/net"], Parse("--netns", "/proc/thread-self/ns/net", "--netns", "/proc/self/ns/net").Namespaces);
    }

    [Theory]
    [InlineData("/proc/self/ns/uts", "not a network namespace")]
    [InlineData("/proc/self/status", "not a namespace file")]
    [InlineData("/nonexistent-toa-test/ns", "No such file or directory")]
    public void From_PathNamingNoNetworkNamespace_UsageErrorNamingIt(string path, string expected)
    {
        var e = Assert.Throws<CliException>(() => Parse("--netns", path));

        Assert.Equal(ReturnCode.UsageError, e.Code);
        Assert.StartsWith($"--netns: network namespace {path}: ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("(Parameter", e.Message);
    }

    [Theory]
    [InlineData(new string[0], new[] { "--netns", "/proc/self/ns/net" })]
    [InlineData(new[] { "--netns", "all" }, new[] { "--netns", "all" })]
    [InlineData(new[] { "--netns", "/proc/thread-self/ns/net", "--netns", "/proc/self/ns/net" },
        new[] { "--netns", "/proc/thread-self/ns/net", "--netns", "/proc/self/ns/net" })]
    public void ToArguments_Namespaces_SpelledOutSoTheUnitLoadsTheSame(string[] given, string[] expected)
    {
        var arguments = ReceiverLoadOptions.ToArguments(Parse(given));

        var netns = arguments.Select((a, i) => (a, i)).Where(x => x.a == "--netns").SelectMany(x => new[] { x.a, arguments[x.i + 1] });
        Assert.Equal(expected, netns);
        Assert.Equal(Parse(given).Namespaces, Parse([.. arguments]).Namespaces);
    }
}
