// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Toa.Bpf;

namespace Toa.Sender.Tests;

/// <summary>The C# mirror of bpf/sender.h against the BTF clang wrote into the embedded object.</summary>
public class SenderAbiTests
{
    private static BpfObject Open() => BpfObject.OpenEmbedded(typeof(ToaSender).Assembly, SenderAbi.ObjectResource);

    [Fact]
    public void ToaSend_MatchesBtfLayout()
    {
        using var obj = Open();
        var btf = obj.Btf.Struct(SenderAbi.StorageStruct);

        Assert.Equal(btf.Size, Marshal.SizeOf<SenderAbi.ToaSend>());
        var fields = new Dictionary<string, string>
        {
            ["options"] = nameof(SenderAbi.ToaSend.Options),
            ["option_count"] = nameof(SenderAbi.ToaSend.OptionCount),
            ["total_len"] = nameof(SenderAbi.ToaSend.TotalLen),
            ["placement"] = nameof(SenderAbi.ToaSend.Placement),
            ["written"] = nameof(SenderAbi.ToaSend.Written),
            ["nospace"] = nameof(SenderAbi.ToaSend.NoSpace),
            ["pending"] = nameof(SenderAbi.ToaSend.Pending),
            ["flags"] = nameof(SenderAbi.ToaSend.Flags),
            ["data_una"] = nameof(SenderAbi.ToaSend.DataUna),
            ["packets"] = nameof(SenderAbi.ToaSend.Packets),
        };
        Assert.Equal(fields.Keys.Order(), btf.Members.Keys.Order());
        foreach (var (c, cs) in fields)
            Assert.Equal(btf.Members[c].Offset, (int)Marshal.OffsetOf<SenderAbi.ToaSend>(cs));
    }

    [Fact]
    public void Object_HasTheNamedProgramAndMap()
    {
        using var obj = Open();

        Assert.NotNull(obj.Program(SenderAbi.Program));
        Assert.NotNull(obj.Map(SenderAbi.StorageMap));
    }
}
