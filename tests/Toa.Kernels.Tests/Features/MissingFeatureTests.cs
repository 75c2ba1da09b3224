// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Bpf.Features;
using Toa.Cli;
using Toa.Cli.CommandLine;
using Toa.Testing;

namespace Toa.Kernels.Tests.Features;

/// <summary>
/// Commands on a kernel that lacks a feature (made so by a probe set that reports it
/// missing): one line naming the feature, exit 1, and nothing loaded or attached.
/// </summary>
public sealed class MissingFeatureTests
{
    [Fact]
    public async Task Connect_WithoutHeaderOptions_RefusesInOneLineAndAttachesNothing()
    {
        KernelTest.Require();
        var pid = Environment.ProcessId;
        var cgroup = Cgroup.OfProcess(pid).Path;
        var fds = BpfFds();

        var (code, _, error) = await RunAsync(FeatureProbes.Kernel.Without(KernelFeatures.SockOpsHeaderOptions),
            "connect", "127.0.0.1:9", "--as", "203.0.113.7:4321");

        Assert.Equal(1, code);
        Assert.Equal("toa: this kernel lacks TCP header options in sock_ops programs (Linux 5.10 and later): reported missing on purpose",
            error.TrimEnd('\n'));
        Assert.Equal(cgroup, Cgroup.OfProcess(pid).Path);
        Assert.DoesNotContain(Cgroup.RootGroup.Children(), c => c.Path.EndsWith($"/toa-sender-{pid}", StringComparison.Ordinal));
        Assert.Equal(fds, BpfFds());
    }

    [Fact]
    public async Task Features_OneMissing_ListsItWithTheReasonAndExits1()
    {
        KernelTest.Require();

        var (code, output, _) = await RunAsync(FeatureProbes.Kernel.Without(KernelFeatures.CgroupGetpeername), "features");

        Assert.Equal(1, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(KernelFeatures.All.Count, lines.Length);
        Assert.Contains("no\tcgroup-getpeername\t5.8\tcgroup getpeername programs\treported missing on purpose", lines);
    }

    private static async Task<(int Code, string Out, string Err)> RunAsync(FeatureProbes probes, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        using (probes.Use())
        {
            var code = await CliRunner.RunAsync(RootCommandFactory.Create(), args, output, error);
            return (code, output.ToString(), error.ToString());
        }
    }

    // The process's BPF objects: programs, maps and links each hold an fd.
    private static string[] BpfFds() =>
        [.. new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos()
            .Select(f => f.LinkTarget ?? "")
            .Where(t => t.StartsWith("anon_inode:bpf", StringComparison.Ordinal))
            .Order()];
}
