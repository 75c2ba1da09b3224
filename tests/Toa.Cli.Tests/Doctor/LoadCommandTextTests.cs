// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Bpf;
using Toa.Cli.Doctor;
using Toa.Receiver;
using Toa.Wire;

namespace Toa.Cli.Tests.Doctor;

public class LoadCommandTextTests
{
    private static DoctorContext Context(string pins = ToaReceiver.DefaultPinDirectory) =>
        new() { PinDirectory = pins, IsRoot = true, Progress = TextWriter.Null };

    private static ReceiverStatus Status(string cgroup, ToaLayouts formats, Nat64PeerMode nat64, params string[] trust) =>
        new(ToaReceiver.DefaultPinDirectory, cgroup, formats, [.. trust.Select(IPNetwork.Parse)], nat64, true, [], DateTimeOffset.UnixEpoch,
            [NetworkNamespace.Of(NetworkNamespace.Current)]);

    // What doctor suggests must be a command line toa load accepts.
    private static void AssertLoadAccepts(string commandLine)
    {
        var parse = RootCommandFactory.Create().Parse(commandLine.Split(' ')[1..]);
        Assert.Empty(parse.Errors);
        Assert.Equal("load", parse.CommandResult.Command.Name);
    }

    [Fact]
    public void Reload_DefaultsAtTheRoot_OnlyTheTrustList()
    {
        var root = Cgroup.FindRoot() ?? "/sys/fs/cgroup";
        var text = LoadCommandText.Reload(Context(), Status(root, ToaLayouts.Default, Nat64PeerMode.Real, "10.0.0.0/8"));

        Assert.Equal(Cgroup.FindRoot() is null ? $"toa load --force --cgroup {root} --trust 10.0.0.0/8" : "toa load --force --trust 10.0.0.0/8", text);
        AssertLoadAccepts(text);
    }

    [Fact]
    public void Reload_EveryNamespaceHonoured_KeepsNetnsAll()
    {
        var root = Cgroup.FindRoot() ?? "/sys/fs/cgroup";
        var status = Status(root, ToaLayouts.Default, Nat64PeerMode.Real, "10.0.0.0/8") with { Namespaces = null };

        var text = LoadCommandText.Reload(Context(), status);

        Assert.EndsWith("--trust 10.0.0.0/8 --netns all", text);
        AssertLoadAccepts(text);
    }

    [Fact]
    public void Reload_EverySettingAndAnotherPeer_RepeatsThemAll()
    {
        var status = Status("/sys/fs/cgroup/web.slice", ToaLayouts.Tencent4 | ToaLayouts.Tencent6, Nat64PeerMode.Snat, "10.0.0.0/8");

        var text = LoadCommandText.Reload(Context("/sys/fs/bpf/web"), status,
            ["10.0.0.0/8", "192.0.2.7/32"], formats: status.Formats | ToaLayouts.Dpvs4);

        Assert.Equal("toa load --force --cgroup /sys/fs/cgroup/web.slice --formats 200/8,253/20,254/8 --trust 10.0.0.0/8 "
            + "--trust 192.0.2.7/32 --nat64-peer snat --pin-dir /sys/fs/bpf/web", text);
        AssertLoadAccepts(text);
    }
}
