// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Bpf.Features;
using Toa.Cli;
using Toa.Cli.CommandLine;
using Toa.Sender;
using Toa.Testing;

namespace Toa.Kernels.Tests.Features;

/// <summary>
/// Commands on a kernel that lacks a feature (made so by a probe set that reports it
/// missing): one line naming the feature, exit 1, and nothing loaded or attached; or,
/// for a feature with a fallback, the fallback, which toa status names.
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
        Assert.Equal("fail: toa[5] this kernel lacks TCP header options in sock_ops programs (Linux 5.10 and later): reported missing on purpose",
            error.TrimEnd('\n'));
        Assert.Equal(cgroup, Cgroup.OfProcess(pid).Path);
        Assert.Null(ToaSender.LeftBehind(Cgroup.At(cgroup), pid));
        Assert.Equal(fds, BpfFds());
    }

    [Fact]
    public async Task Load_WithoutGetpeernameHooks_RefusesInOneLineAndAttachesNothing()
    {
        KernelTest.Require();
        var pins = Path.Combine(BpfFs.DefaultMount, $"toa-refused-{Environment.ProcessId}");
        var fds = BpfFds();

        var (code, output, error) = await RunAsync(FeatureProbes.Kernel.Without(KernelFeatures.CgroupGetpeername),
            "load", "--pin-dir", pins);

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal("fail: toa[5] this kernel lacks cgroup getpeername programs (Linux 5.8 and later): reported missing on purpose",
            error.TrimEnd('\n'));
        Assert.False(Directory.Exists(pins), $"{pins} exists");
        Assert.Equal(fds, BpfFds());
    }

    [Fact]
    public async Task Load_WithoutSockoptRetval_FallsBackAndStatusSaysSo()
    {
        KernelTest.Require();
        var name = $"toa-fallback-{Environment.ProcessId}";
        var cgroup = Cgroup.RootGroup.CreateChild(name);
        var pins = Path.Combine(BpfFs.DefaultMount, name);
        try
        {
            var probes = FeatureProbes.Kernel.Without(KernelFeatures.SockoptRetval);
            var (code, _, error) = await RunAsync(probes, "load", "--cgroup", cgroup.Path, "--pin-dir", pins);
            Assert.True(code == 0, error);

            var (_, status, _) = await RunAsync(FeatureProbes.Kernel, "status", "--pin-dir", pins);

            Assert.Contains("getsockopt 4096 without a NAT64 client: ENOPROTOOPT (this kernel lets programs choose no errno)", status);
        }
        finally
        {
            await RunAsync(FeatureProbes.Kernel, "unload", "--pin-dir", pins);
            cgroup.Remove();
        }
    }

    [Fact]
    public async Task Features_OneMissing_ListsItWithTheReasonAndExits1()
    {
        KernelTest.Require();

        var (code, output, _) = await RunAsync(FeatureProbes.Kernel.Without(KernelFeatures.CgroupGetpeername), "features");

        Assert.Equal(1, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(KernelFeatures.All.Count, lines.Length);
        Assert.Contains("no\tcgroup-getpeername\t5.8\tcgroup getpeername programs\treported missing on purpose\trequired", lines);
    }

    [Fact]
    public async Task Features_OnlyOneWithAFallbackMissing_SaysWhatToaDoesInsteadAndExits0()
    {
        KernelTest.Require();

        var (code, output, _) = await RunAsync(FeatureProbes.Kernel.Without(KernelFeatures.SockoptRetval), "features");

        Assert.Equal(0, code);
        Assert.Contains("no\tsockopt-retval\t5.18\tan errno of the program's choice from cgroup getsockopt programs\t"
            + "reported missing on purpose\tgetsockopt 4096 without a NAT64 client fails with ENOPROTOOPT, not EINVAL",
            output.Split('\n'));
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
