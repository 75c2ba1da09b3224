// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Testing;

namespace Toa.Sender.Tests;

/// <summary>The C# mirror of bpf/sender.h against the BTF clang wrote into the embedded object.</summary>
public class SenderAbiTests
{
    private static BpfObject Open() => BpfObject.OpenEmbedded(typeof(ToaSender).Assembly, SenderAbi.ObjectResource);

    [Fact]
    public void ToaSend_MatchesBtfLayout() =>
        AssertLayout<SenderAbi.ToaSend>(SenderAbi.StorageStruct, new()
        {
            ["options"] = nameof(SenderAbi.ToaSend.Options),
            ["option_count"] = nameof(SenderAbi.ToaSend.OptionCount),
            ["total_len"] = nameof(SenderAbi.ToaSend.TotalLen),
            ["placement"] = nameof(SenderAbi.ToaSend.Placement),
            ["written"] = nameof(SenderAbi.ToaSend.Written),
            ["nospace"] = nameof(SenderAbi.ToaSend.NoSpace),
            ["pending"] = nameof(SenderAbi.ToaSend.Pending),
            ["flags"] = nameof(SenderAbi.ToaSend.Flags),
            ["slot"] = nameof(SenderAbi.ToaSend.Slot),
            ["data_una"] = nameof(SenderAbi.ToaSend.DataUna),
            ["packets"] = nameof(SenderAbi.ToaSend.Packets),
        });

    [Fact]
    public void Counts_MatchesBtfLayout() =>
        AssertLayout<SenderAbi.Counts>(SenderAbi.CountsStruct, new()
        {
            ["outcomes"] = nameof(SenderAbi.Counts.Outcomes),
            ["in_storage"] = nameof(SenderAbi.Counts.InStorage),
        });

    [Fact]
    public void Failure_MatchesBtfLayout() =>
        AssertLayout<SenderAbi.Failure>(SenderAbi.FailureStruct, new()
        {
            ["family"] = nameof(SenderAbi.Failure.Family),
            ["local_ip"] = nameof(SenderAbi.Failure.LocalIp),
            ["remote_ip"] = nameof(SenderAbi.Failure.RemoteIp),
            ["local_port"] = nameof(SenderAbi.Failure.LocalPort),
            ["remote_port"] = nameof(SenderAbi.Failure.RemotePort),
            ["outcome"] = nameof(SenderAbi.Failure.Outcome),
            ["placements"] = nameof(SenderAbi.Failure.Placements),
            ["total_len"] = nameof(SenderAbi.Failure.TotalLen),
        });

    [Fact]
    public void Object_HasTheNamedProgramAndMap()
    {
        using var obj = Open();

        Assert.NotNull(obj.Program(SenderAbi.Program));
        Assert.NotNull(obj.Program(SenderAbi.AttachProgram));
        Assert.NotNull(obj.Map(SenderAbi.StorageMap));
        Assert.NotNull(obj.Map(SenderAbi.ConnectionsMap));
        Assert.NotNull(obj.Map(SenderAbi.CountsMap));
        Assert.NotNull(obj.Map(SenderAbi.FailuresMap));
    }

    private static void AssertLayout<T>(string cStruct, Dictionary<string, string> fields) where T : struct
    {
        using var obj = Open();
        BtfLayout.AssertMatches<T>(obj, cStruct, fields);
    }
}
