// SPDX-License-Identifier: MIT
using System.Buffers;
using System.IO.Pipelines;
using Toa.Wire;

namespace Toa.AspNetCore;

/// <summary>What reading a connection's PROXY header gave: the header, or why there is none.</summary>
internal readonly record struct ProxyHeaderRead(ProxyHeader Header, ProxyRefusal? Refusal, string? Reason);

/// <summary>Reads the PROXY header off the front of a connection's input, leaving the application's bytes after it.</summary>
internal static class ProxyHeaderReader
{
    public static async Task<ProxyHeaderRead> ReadAsync(PipeReader input, TimeSpan timeout, CancellationToken connectionClosed)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(connectionClosed);
        deadline.CancelAfter(timeout);
        while (true)
        {
            ReadResult read;
            try
            {
                read = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!connectionClosed.IsCancellationRequested)
            {
                return new(default, ProxyRefusal.Timeout, $"no whole PROXY header within {timeout.TotalSeconds:0.###} s");
            }
            catch (OperationCanceledException)
            {
                return new(default, ProxyRefusal.Closed, "the connection closed before its PROXY header was complete");
            }
            var buffer = read.Buffer;
            // Parsed again from the start as bytes come: a header is at most 64 KiB and usually 28 or 52 bytes.
            var result = Parse(buffer);
            switch (result.Status)
            {
                case ProxyParseStatus.Complete:
                    input.AdvanceTo(buffer.GetPosition(result.Length));
                    return new(result.Header, null, null);
                case ProxyParseStatus.Invalid:
                    input.AdvanceTo(buffer.Start);
                    return new(default, ProxyRefusal.Invalid, result.Error);
                default:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    if (read.IsCompleted || read.IsCanceled)
                        return new(default, ProxyRefusal.Closed, "the connection closed before its PROXY header was complete");
                    break;
            }
        }
    }

    private static ProxyParseResult Parse(ReadOnlySequence<byte> buffer)
    {
        var window = buffer.Slice(0, Math.Min(buffer.Length, ProxyProtocol.MaxLength));
        return window.IsSingleSegment ? ProxyProtocol.TryParse(window.FirstSpan) : ProxyProtocol.TryParse(window.ToArray());
    }
}
