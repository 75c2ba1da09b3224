// SPDX-License-Identifier: MIT
namespace Toa.Cli.Tests.Commands;

public class MetricsCommandTests
{
    [Theory]
    [InlineData("localhost:9469")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("::1:9469")]
    public async Task Metrics_BadListen_ExitsTwoWithOneLineNamingIt(string listen)
    {
        var (code, output, error) = await CliHarness.RunAsync("metrics", "--listen", listen, "--pin-dir", "/nonexistent-toa-test");

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith("fail: toa[1] --listen: ", error);
        Assert.Contains(listen, error.Split('\n')[0]);
    }
}
