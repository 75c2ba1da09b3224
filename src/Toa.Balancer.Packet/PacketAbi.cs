// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Balancer.Packet;

/// <summary>
/// The C# mirror of bpf/fullnat.h and the names in bpf/fullnat.bpf.c. Tests check the structs
/// against the BTF of the embedded object. Addresses are in network order (IPv4 in the first
/// four bytes); ports in flows and keys in network order, in settings in host order.
/// </summary>
internal static class PacketAbi
{
    public const string ObjectResource = "fullnat.bpf.o";
    public const string Program = "fn_ingress";
    public const string VipsMap = "fn_vips";
    public const string BackendsMap = "fn_backends";
    public const string TablesMap = "fn_tables";
    public const string ConfigMap = "fn_config";
    public const string FlowsMap = "fn_flows";
    public const string ListenerCountsMap = "fn_listener_counts";
    public const string BackendCountsMap = "fn_backend_counts";

    public const int MaxListeners = 64;
    public const int MaxBackends = 4096;
    public const int TableSize = PacketListener.TableSize;
    public const int TableRegions = 32;
    public const int ToaMaxLength = 20;

    public const byte AfInet = 2;
    public const byte AfInet6 = 10;

    /// <summary>enum fn_toa_format.</summary>
    public enum ToaFormat : byte { None = 0, Tencent = 1, Dpvs = 2 }

    /// <summary>enum fn_state.</summary>
    public enum State : byte { Syn = 0, Established = 1, Fin = 2, Closing = 3, Closed = 4 }

    public const byte VipNat64 = 1 << 0;

    public const byte ConnForward = 1 << 0;
    public const byte ConnToaDone = 1 << 1;
    public const byte ConnNat64 = 1 << 2;
    public const byte ConnClientFin = 1 << 3;
    public const byte ConnBackendFin = 1 << 4;

    /// <summary>enum fn_counter: indexes of <see cref="Counts.Values"/>.</summary>
    public enum Counter
    {
        Connections, PacketsIn, PacketsOut, BytesIn, BytesOut, ToaWritten, ToaNoRoom, ToaRemoved,
        TableFull, NoBackend, NoPort, NoRoute, MssClamped, PortReused,
    }

    public const int CounterCount = 14;

    /// <summary>struct fn_flow.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Flow
    {
        public fixed byte SAddr[16];
        public fixed byte DAddr[16];
        public ushort SPort;
        public ushort DPort;
        public byte Family;
        private fixed byte _pad[3];
    }

    /// <summary>struct fn_vip_key.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct VipKey
    {
        public fixed byte Addr[16];
        public ushort Port;
        public byte Family;
        private byte _pad;
    }

    /// <summary>struct fn_vip.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Vip
    {
        public uint Id;
        public uint Region;
        public uint Backends;
        public ushort Mss;
        public ToaFormat Toa;
        public byte Flags;
    }

    /// <summary>struct fn_backend.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Backend
    {
        public fixed byte Addr[16];
        public fixed byte Snat[16];
        public ushort Port;
        public byte Family;
        private byte _pad;
        public uint Listener;
    }

    /// <summary>struct fn_config.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Config
    {
        public ushort PortMin;
        public ushort PortMax;
        private uint _pad;
    }

    /// <summary>struct fn_conn.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Conn
    {
        public Flow Rewrite;
        public ulong LastSeen;
        public uint ClientIsn;
        public uint Backend;
        public uint Listener;
        public State State;
        public byte Flags;
        public byte ToaLength;
        private byte _pad;
        public fixed byte Toa[ToaMaxLength];
    }

    /// <summary>struct fn_counts (one CPU's).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Counts
    {
        public fixed ulong Values[CounterCount];
    }

    /// <summary>struct fn_backend_counts (one CPU's).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct BackendCounts
    {
        public ulong Connections;
        public ulong BytesIn;
        public ulong BytesOut;
    }
}
