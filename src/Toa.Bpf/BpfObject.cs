// SPDX-License-Identifier: MIT
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Toa.Bpf.Native;

namespace Toa.Bpf;

/// <summary>
/// One eBPF ELF object through its lifecycle: open (from memory), configure
/// (read-only globals, map reuse), load (verify), then hand out programs and maps.
/// Disposing closes the object: programs without a link or pin go away with it.
/// </summary>
public sealed unsafe class BpfObject : IDisposable
{
    private const int VerifierLogSize = 4 * 1024 * 1024;

    private nint _obj;
    private byte* _elf;
    private readonly Dictionary<string, BpfProgram> _programs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BpfMap> _maps = new(StringComparer.Ordinal);

    private BpfObject(nint obj, byte* elf, string name)
    {
        _obj = obj;
        _elf = elf;
        Name = name;
        for (var p = LibBpf.ObjectNextProgram(obj, 0); p != 0; p = LibBpf.ObjectNextProgram(obj, p))
        {
            var program = new BpfProgram(this, p);
            _programs[program.Name] = program;
        }
        for (var m = LibBpf.ObjectNextMap(obj, 0); m != 0; m = LibBpf.ObjectNextMap(obj, m))
        {
            var map = new BpfMap(this, m);
            _maps[map.Name] = map;
        }
    }

    /// <summary>The object's name, used in messages.</summary>
    public string Name { get; }

    /// <summary>Whether <see cref="Load"/> succeeded.</summary>
    public bool IsLoaded { get; private set; }

    /// <summary>The programs, by name.</summary>
    public IReadOnlyDictionary<string, BpfProgram> Programs => _programs;

    /// <summary>The maps, by name (including libbpf's internal .rodata/.bss maps).</summary>
    public IReadOnlyDictionary<string, BpfMap> Maps => _maps;

    /// <summary>Opens an object from ELF bytes. Nothing reaches the kernel until <see cref="Load"/>.</summary>
    public static BpfObject Open(ReadOnlySpan<byte> elf, string name)
    {
        LibBpfLog.EnsureInstalled();
        // libbpf keeps pointing into the ELF image until the object is closed.
        var copy = (byte*)NativeMemory.Alloc((nuint)elf.Length);
        elf.CopyTo(new Span<byte>(copy, elf.Length));
        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* namePtr = nameBytes)
        {
            var opts = new LibBpf.ObjectOpenOpts { Size = (nuint)sizeof(LibBpf.ObjectOpenOpts), ObjectName = namePtr };
            using var capture = LibBpfLog.Capture();
            var obj = LibBpf.ObjectOpenMem(copy, (nuint)elf.Length, &opts);
            if (obj == 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                NativeMemory.Free(copy);
                throw new BpfException($"object {name}: open ({string.Join("; ", capture.Messages)})", errno);
            }
            return new BpfObject(obj, copy, name);
        }
    }

    /// <summary>Opens an object embedded as a manifest resource of <paramref name="assembly"/>.</summary>
    public static BpfObject OpenEmbedded(Assembly assembly, string resourceName)
    {
        using var stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException(
                $"object {resourceName}: not embedded in {assembly.GetName().Name} (was it built with clang?)");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return Open(bytes, Path.GetFileNameWithoutExtension(Path.GetFileNameWithoutExtension(resourceName)));
    }

    /// <summary>The program named <paramref name="name"/>; throws naming the ones that exist.</summary>
    public BpfProgram Program(string name) =>
        _programs.TryGetValue(name, out var p) ? p
            : throw new KeyNotFoundException($"object {Name}: no program {name} (has: {string.Join(", ", _programs.Keys)})");

    /// <summary>The map named <paramref name="name"/>; throws naming the ones that exist.</summary>
    public BpfMap Map(string name) =>
        _maps.TryGetValue(name, out var m) ? m
            : throw new KeyNotFoundException($"object {Name}: no map {name} (has: {string.Join(", ", _maps.Keys)})");

    /// <summary>The object's BTF, for checking layouts and setting globals.</summary>
    public Btf Btf => new(LibBpf.ObjectBtf(Handle), this);

    /// <summary>
    /// Sets a <c>const volatile</c> global in .rodata before load, found by name in the BTF data section.
    /// </summary>
    public void SetConstant<T>(string variable, T value) where T : unmanaged
    {
        if (IsLoaded)
            throw new InvalidOperationException($"object {Name}: constants are set before load");
        var rodata = _maps.Values.FirstOrDefault(m => m.Name.EndsWith(".rodata", StringComparison.Ordinal))
            ?? throw new KeyNotFoundException($"object {Name}: no .rodata section");
        var (offset, size) = Btf.DataSectionVariable(".rodata", variable);
        if (size != sizeof(T))
            throw new ArgumentException($"object {Name}: {variable} is {size} bytes, not {sizeof(T)}");
        nuint total;
        var data = LibBpf.MapInitialValue(rodata.Handle, &total);
        if (data == null || (nuint)(offset + size) > total)
            throw new InvalidOperationException($"object {Name}: .rodata is not writable");
        *(T*)(data + offset) = value;
    }

    /// <summary>
    /// Loads every program and creates the maps. A rejected program raises
    /// <see cref="VerifierException"/> with the verifier's log.
    /// </summary>
    public void Load()
    {
        ObjectDisposedException.ThrowIf(_obj == 0, this);
        var logs = new Dictionary<BpfProgram, nint>();
        try
        {
            foreach (var program in _programs.Values)
            {
                var buffer = (byte*)NativeMemory.AllocZeroed(VerifierLogSize);
                logs[program] = (nint)buffer;
                LibBpf.ProgramSetLogBuf(program.Handle, buffer, VerifierLogSize);
            }
            using var capture = LibBpfLog.Capture();
            var ret = LibBpf.ObjectLoad(_obj);
            if (ret < 0)
            {
                var failed = logs.FirstOrDefault(kv => ((byte*)kv.Value)[0] != 0);
                if (failed.Key is not null)
                    throw new VerifierException(failed.Key.Name, -ret,
                        Marshal.PtrToStringUTF8(failed.Value) ?? "", capture.Messages.ToArray());
                throw new BpfException($"object {Name}: load ({string.Join("; ", capture.Messages)})", -ret);
            }
            IsLoaded = true;
        }
        finally
        {
            foreach (var program in logs.Keys)
                LibBpf.ProgramSetLogBuf(program.Handle, null, 0);
            foreach (var buffer in logs.Values)
                NativeMemory.Free((void*)buffer);
        }
    }

    internal nint Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_obj == 0, this);
            return _obj;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_obj != 0)
        {
            LibBpf.ObjectClose(_obj);
            _obj = 0;
        }
        if (_elf != null)
        {
            NativeMemory.Free(_elf);
            _elf = null;
        }
    }
}
