// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Toa.Bpf;
using Xunit;

namespace Toa.Testing;

/// <summary>Checks a C# mirror of a BPF struct or enum against the BTF clang wrote into the object.</summary>
public static class BtfLayout
{
    /// <summary>
    /// The C# struct has the C struct's size and each named member (C name to C# field name) at the
    /// C member's offset; members named "pad" are padding and need no mirror.
    /// </summary>
    public static void AssertMatches<T>(BpfObject obj, string cStruct, Dictionary<string, string> fields) where T : struct
    {
        var btf = obj.Btf.Struct(cStruct);
        Assert.Equal(btf.Size, Marshal.SizeOf<T>());
        Assert.Equal(fields.Keys.Order(), btf.Members.Keys.Where(k => k != "pad").Order());
        foreach (var (c, cs) in fields)
            Assert.Equal(btf.Members[c].Offset, (int)Marshal.OffsetOf<T>(cs));
    }

    /// <summary>
    /// The C enum and the C# enum name the same values: each C enumerator is mapped to a C# member
    /// of its value, and each C# member is some enumerator's.
    /// </summary>
    public static void AssertEnumMatches<T>(BpfObject obj, string cEnum, Dictionary<string, T> enumerators) where T : struct, Enum
    {
        var btf = obj.Btf.Enum(cEnum);
        Assert.Equal(enumerators.Keys.Order(), btf.Values.Keys.Order());
        foreach (var (c, cs) in enumerators)
            Assert.True(btf.Values[c] == Convert.ToInt64(cs), $"{c} is {btf.Values[c]}, {typeof(T).Name}.{cs} is {Convert.ToInt64(cs)}");
        Assert.Equal(Enum.GetValues<T>().Order(), enumerators.Values.Order());
    }
}
