// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Sender;

/// <summary>
/// The C# mirror of bpf/sender.h and the names in bpf/sender.bpf.c. Tests check the
/// structs against the BTF of the embedded object; struct toa_attach, which only a
/// program's local variable names (so BTF leaves it out), is checked by use: the program
/// ignores a call of any other length.
/// </summary>
internal static class SenderAbi
{
    public const string ObjectResource = "sender.bpf.o";
    public const string Program = "toa_sender";
    public const string AttachProgram = "toa_attach";
    public const uint AttachMagic = 0x31414f54;
    public const string StorageMap = "toa_send_map";
    public const string ConnectionsMap = "toa_send_conns";
    public const string StorageStruct = "toa_send";
    public const string CountsMap = "toa_send_counts_map";
    public const string CountsStruct = "toa_send_counts";
    public const string FailuresMap = "toa_send_failures";
    public const string FailureStruct = "toa_send_failure";

    public const int MaxOptions = 4;
    public const int OptionMaxLength = 20;
    public const int TcpOptionSpace = 40;

    public const byte FlagEstablished = 1 << 0;
    public const byte FlagAckSent = 1 << 1;

    /// <summary>TOA_ATTACH_STAY: the state stays in socket storage.</summary>
    public const byte AttachStay = 1 << 0;

    /// <summary>SOL_SOCKET's SO_COOKIE: the socket's cookie, the connections map's key.</summary>
    public const int SolSocket = 1, SoCookie = 57;

    /// <summary>Linux's AF_INET6, as toa_send_failure.family holds it (.NET numbers families its own way).</summary>
    public const uint AfInet6 = 10;

    /// <summary>enum toa_send_outcome: indexes of <see cref="Counts.Outcomes"/>, and what <see cref="Failure.Outcome"/> holds.</summary>
    public enum Outcome
    {
        Written = 0,
        NoRoom = 1,
        Missing = 2,
        /// <summary>TOA_SEND_OUTCOMES: how many there are.</summary>
        Count = 3,
    }

    public const int OutcomeCount = (int)Outcome.Count;

    /// <summary>struct toa_send.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct ToaSend
    {
        public fixed byte Options[TcpOptionSpace];
        public byte OptionCount;
        public byte TotalLen;
        public byte Placement;
        public byte Written;
        public byte NoSpace;
        public byte Pending;
        public byte Flags;
        public byte Slot;
        public uint DataUna;
        public uint Packets;
    }

    /// <summary>struct toa_attach: the TCP_NODELAY value that carries the options to toa_attach.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Attach
    {
        public int NoDelay;
        public uint Magic;
        public fixed byte Options[TcpOptionSpace];
        public byte OptionCount;
        public byte TotalLen;
        public byte Placement;
        public byte Slot;
        public byte Flags;
    }

    /// <summary>struct toa_send_counts (one CPU's).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Counts
    {
        public fixed ulong Outcomes[OutcomeCount];
        public ulong InStorage;
    }

    /// <summary>struct toa_send_failure.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Failure
    {
        public uint Family;
        public fixed byte LocalIp[16];
        public fixed byte RemoteIp[16];
        public ushort LocalPort;
        public ushort RemotePort;
        public byte Outcome;
        public byte Placements;
        public byte TotalLen;
    }
}
