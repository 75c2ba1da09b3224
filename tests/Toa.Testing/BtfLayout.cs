// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Toa.Bpf;
using Xunit;

namespace Toa.Testing;

/// <summary>Checks a C# mirror of a BPF struct against the BTF clang wrote into the object.</summary>
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
}
