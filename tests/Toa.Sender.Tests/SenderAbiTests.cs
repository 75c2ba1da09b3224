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

    [Fact]
    public void Outcome_MatchesBtfEnum()
    {
        using var obj = Open();
        BtfLayout.AssertEnumMatches(obj, "toa_send_outcome", new Dictionary<string, SenderAbi.Outcome>
        {
            ["TOA_SEND_WRITTEN"] = SenderAbi.Outcome.Written, ["TOA_SEND_NO_ROOM"] = SenderAbi.Outcome.NoRoom,
            ["TOA_SEND_MISSING"] = SenderAbi.Outcome.Missing, ["TOA_SEND_OUTCOMES"] = SenderAbi.Outcome.Count,
        });
    }

    [Fact]
    public void FailureKind_IsTheOutcomeAFailureRecords()
    {
        // ToaSender casts toa_send_failure.outcome to it; TOA_SEND_WRITTEN is never a failure.
        using var obj = Open();
        var outcomes = obj.Btf.Enum("toa_send_outcome").Values;
        Assert.Equal((long)ToaSendFailureKind.NoRoom, outcomes["TOA_SEND_NO_ROOM"]);
        Assert.Equal((long)ToaSendFailureKind.Missing, outcomes["TOA_SEND_MISSING"]);
        Assert.Equal(2, Enum.GetValues<ToaSendFailureKind>().Length);
    }

    [Fact]
    public void Placement_MatchesBtfEnum()
    {
        using var obj = Open();
        // The C# enum adds None and Default, combinations of these.
        Assert.Equal(new Dictionary<string, long>
        {
            ["TOA_PLACE_SYN"] = (long)ToaPlacement.Syn, ["TOA_PLACE_ACK"] = (long)ToaPlacement.Ack, ["TOA_PLACE_DATA"] = (long)ToaPlacement.Data,
        }, obj.Btf.Enum("toa_placement").Values);
    }

    private static void AssertLayout<T>(string cStruct, Dictionary<string, string> fields) where T : struct
    {
        using var obj = Open();
        BtfLayout.AssertMatches<T>(obj, cStruct, fields);
    }
}
