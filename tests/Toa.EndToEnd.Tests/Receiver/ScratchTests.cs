// SPDX-License-Identifier: MIT
using System.Text.Json;
using Toa.EndToEnd.Tests.Receiver;
using Toa.Lab;

// Not the Receiver namespace: nothing here depends on the kernel's version, so the guests skip it.
namespace Toa.EndToEnd.Tests.ReceiverLimits;

/// <summary>
/// The per-CPU parse buffers (struct toa_scratch): a slot left taken never stops the
/// parses of that CPU, and a packet that finds every slot taken is counted. The test
/// writes the slots' marks itself (bpftool), as a program interrupted mid-parse holds them.
/// </summary>
public sealed class ScratchTests : IDisposable
{
    private const int Port = 8000;
    private readonly ReceiverLab _lab = new();

    public void Dispose() => _lab.Dispose();

    /// <summary>Writes the first two words of every CPU's scratch space, the rest zero.</summary>
    private void SetMarks(uint first, uint second)
    {
        var map = ScratchMapId();
        var size = JsonDocument.Parse(Shell.Run("bpftool", "-j", "map", "show", "id", $"{map}")).RootElement.GetProperty("bytes_value").GetInt32();
        var value = new byte[size];
        BitConverter.TryWriteBytes(value.AsSpan(0, 4), first);
        BitConverter.TryWriteBytes(value.AsSpan(4, 4), second);
        Shell.Run("bpftool", ["map", "update", "id", $"{map}", "key", "hex", "00", "00", "00", "00", "value", "hex",
            .. value.Select(b => b.ToString("x2"))]);
    }

    private uint ScratchMapId()
    {
        var sockops = Toa.Receiver.ToaReceiver.Status(_lab.PinDirectory)!.Programs.First(p => p.Hook == "sock_ops").ProgramId;
        var maps = JsonDocument.Parse(Shell.Run("bpftool", "-j", "prog", "show", "id", $"{sockops}")).RootElement.GetProperty("map_ids");
        foreach (var id in maps.EnumerateArray().Select(m => m.GetUInt32()))
            if (JsonDocument.Parse(Shell.Run("bpftool", "-j", "map", "show", "id", $"{id}")).RootElement.GetProperty("name").GetString() == "toa_scratch")
                return id;
        throw new InvalidOperationException($"program {sockops} has no toa_scratch map");
    }

    private async Task<string> AcceptedAsync(LabProcess server, string client)
    {
        var before = server.Output.Count(l => l == "closed");
        Assert.Equal(0, (await _lab.ConnectAsync(Port, "hello\n", "--as", client)).ExitCode);
        await server.WaitForLineAsync(_ => server.Output.Count(l => l == "closed") > before, TimeSpan.FromSeconds(30));
        return server.Output.Where(l => l.StartsWith("accepted", StringComparison.Ordinal)).Last();
    }

    [Fact]
    public async Task Parse_SlotsLeftTaken_UsesAFreeOneAndCountsPacketsThatFindNone()
    {
        var server = await _lab.StartCServerAsync("-n", "3", $"{Port}");

        // 0xffffffff in the first word is what the depth count that came before the marks wrapped to.
        SetMarks(0xffffffff, 0);
        Assert.Equal("accepted v4 [203.0.113.7]:4321", await AcceptedAsync(server, "203.0.113.7:4321"));

        SetMarks(1, 1);
        var before = _lab.Counters();
        Assert.Equal($"accepted v4 [{_lab.Link.A.Ipv4}]:", (await AcceptedAsync(server, "203.0.113.8:4321")).Split(']')[0] + "]:");
        // The SYN (read while the SYN-ACK is built), the handshake ACK and the first data.
        Assert.Equal(new Dictionary<string, ulong> { ["syn_recv_sock_no_toa"] = 1, ["getname_toa_empty"] = 1, ["toa_parse_busy"] = 3 },
            _lab.CountersSince(before));

        SetMarks(0, 0);
        Assert.Equal("accepted v4 [203.0.113.9]:4321", await AcceptedAsync(server, "203.0.113.9:4321"));
    }
}
