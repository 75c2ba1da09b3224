// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Toa.Bpf.Native;

namespace Toa.Bpf;

/// <summary>A struct as BTF describes it: its size and its members' byte offsets and sizes.</summary>
public sealed record BtfStruct(string Name, int Size, IReadOnlyDictionary<string, (int Offset, int Size)> Members);

/// <summary>An enum as BTF describes it: its size and its enumerators' values.</summary>
public sealed record BtfEnum(string Name, int Size, IReadOnlyDictionary<string, long> Values);

/// <summary>
/// Read access to an object's BTF: enough to check that a C# mirror of a C struct
/// has the same layout and one of a C enum the same values, and to find globals in data sections.
/// </summary>
public readonly unsafe struct Btf
{
    private const uint KindStruct = 4, KindEnum = 6, KindVar = 14, KindDatasec = 15;

    private readonly nint _btf;
    private readonly BpfObject _owner;

    internal Btf(nint btf, BpfObject owner)
    {
        if (btf == 0)
            throw new InvalidOperationException($"object {owner.Name}: has no BTF (compile with -g)");
        _btf = btf;
        _owner = owner;
    }

    /// <summary>The struct named <paramref name="name"/>.</summary>
    public BtfStruct Struct(string name)
    {
        var id = LibBpf.BtfFindByNameKind(_btf, name, KindStruct);
        if (id < 0)
            throw new KeyNotFoundException($"object {_owner.Name}: BTF has no struct {name}");
        var type = LibBpf.BtfTypeById(_btf, (uint)id);
        var size = (int)type[2];
        var vlen = (int)(type[1] & 0xffff);
        var bitfields = (type[1] >> 31) != 0;
        var members = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        var member = type + 3;
        for (var i = 0; i < vlen; i++, member += 3)
        {
            var offsetBits = bitfields ? member[2] & 0xffffff : member[2];
            members[NameAt(member[0])] = ((int)(offsetBits / 8), (int)LibBpf.BtfResolveSize(_btf, member[1]));
        }
        return new BtfStruct(name, size, members);
    }

    /// <summary>The enum named <paramref name="name"/> (BTF_KIND_ENUM: values that fit 32 bits).</summary>
    public BtfEnum Enum(string name)
    {
        var id = LibBpf.BtfFindByNameKind(_btf, name, KindEnum);
        if (id < 0)
            throw new KeyNotFoundException($"object {_owner.Name}: BTF has no enum {name}");
        var type = LibBpf.BtfTypeById(_btf, (uint)id);
        var vlen = (int)(type[1] & 0xffff);
        // kind_flag marks a signed enum; clang leaves it clear for one whose values are all positive.
        var signed = (type[1] >> 31) != 0;
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        var enumerator = type + 3;
        for (var i = 0; i < vlen; i++, enumerator += 2)
            values[NameAt(enumerator[0])] = signed ? (int)enumerator[1] : enumerator[1];
        return new BtfEnum(name, (int)type[2], values);
    }

    /// <summary>Offset and size of <paramref name="variable"/> inside data section <paramref name="section"/>.</summary>
    public (int Offset, int Size) DataSectionVariable(string section, string variable)
    {
        var id = LibBpf.BtfFindByNameKind(_btf, section, KindDatasec);
        if (id < 0)
            throw new KeyNotFoundException($"object {_owner.Name}: BTF has no section {section}");
        var type = LibBpf.BtfTypeById(_btf, (uint)id);
        var vlen = (int)(type[1] & 0xffff);
        var info = type + 3;
        for (var i = 0; i < vlen; i++, info += 3)
        {
            var var = LibBpf.BtfTypeById(_btf, info[0]);
            if (((var[1] >> 24) & 0x1f) == KindVar && NameAt(var[0]) == variable)
                return ((int)info[1], (int)info[2]);
        }
        throw new KeyNotFoundException($"object {_owner.Name}: no variable {variable} in {section}");
    }

    private string NameAt(uint offset) => Marshal.PtrToStringUTF8((nint)LibBpf.BtfNameByOffset(_btf, offset)) ?? "";
}
