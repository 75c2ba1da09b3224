// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Sender;

/// <summary>
/// The C# mirror of bpf/sender.h and the names in bpf/sender.bpf.c. A test checks
/// it against the BTF of the embedded object.
/// </summary>
internal static class SenderAbi
{
    public const string ObjectResource = "sender.bpf.o";
    public const string Program = "toa_sender";
    public const string StorageMap = "toa_send_map";
    public const string StorageStruct = "toa_send";

    public const int MaxOptions = 4;
    public const int OptionMaxLength = 20;
    public const int TcpOptionSpace = 40;

    public const byte FlagEstablished = 1 << 0;
    public const byte FlagAckSent = 1 << 1;

    /// <summary>struct toa_send.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct ToaSend
    {
        public fixed byte Options[MaxOptions * OptionMaxLength];
        public byte OptionCount;
        public byte TotalLen;
        public byte Placement;
        public byte Written;
        public byte NoSpace;
        public byte Pending;
        public byte Flags;
        public uint DataUna;
        public uint Packets;
    }
}
