// SPDX-License-Identifier: MIT
using System.Threading.Channels;
using SharpPcap;
using SharpPcap.LibPcap;
using Toa.Wire;

namespace Toa.Diagnostics.Capture;

/// <summary>
/// TCP segments from a pcap or pcapng file, or live from an interface (libpcap,
/// through SharpPcap). A capture filter narrows what libpcap hands over.
/// </summary>
public static class PacketSource
{
    /// <summary>Every TCP segment of a capture file.</summary>
    public static IEnumerable<TcpSegment> ReadFile(string path, ToaLayouts accepted, string? filter = null)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"capture file {path}: not found", path);
        using var device = new CaptureFileReaderDevice(path);
        try
        {
            device.Open();
        }
        catch (PcapException e)
        {
            throw new InvalidDataException($"capture file {path}: {e.Message}", e);
        }
        if (filter is not null)
            device.Filter = filter;
        while (device.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
        {
            var raw = capture.GetPacket();
            var segment = TcpSegment.Parse(raw.LinkLayerType, raw.Data, new DateTimeOffset(raw.Timeval.Date), accepted);
            if (segment is not null)
                yield return segment;
        }
    }

    /// <summary>TCP segments seen live on <paramref name="interfaceName"/> until cancelled.</summary>
    public static async IAsyncEnumerable<TcpSegment> Live(string interfaceName, ToaLayouts accepted, string? filter,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel)
    {
        var device = LibPcapLiveDeviceList.New().FirstOrDefault(d => d.Name == interfaceName)
            ?? throw new ArgumentException($"no interface {interfaceName} (have: {string.Join(", ", LibPcapLiveDeviceList.New().Select(d => d.Name))})");
        var segments = Channel.CreateUnbounded<TcpSegment>();
        device.OnPacketArrival += (_, e) =>
        {
            var raw = e.GetPacket();
            if (TcpSegment.Parse(raw.LinkLayerType, raw.Data, new DateTimeOffset(raw.Timeval.Date), accepted) is { } s)
                segments.Writer.TryWrite(s);
        };
        device.Open(new DeviceConfiguration { Mode = DeviceModes.None, ReadTimeout = 100, Immediate = true });
        try
        {
            if (filter is not null)
                device.Filter = filter;
            device.StartCapture();
            await foreach (var s in segments.Reader.ReadAllAsync(cancel).WithCancellation(cancel))
                yield return s;
        }
        finally
        {
            device.StopCapture();
            device.Close();
        }
    }
}
