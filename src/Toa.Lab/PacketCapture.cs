// SPDX-License-Identifier: MIT
namespace Toa.Lab;

/// <summary>
/// tcpdump writing a pcap inside a host. Stop it, then read the file with the
/// oracles: <see cref="ReadTcpdump()"/> (tcpdump -v text, one line per packet) and
/// <see cref="ReadFields"/> (tshark fields).
/// </summary>
public sealed class PacketCapture : IAsyncDisposable
{
    private readonly LabProcess _tcpdump;

    private PacketCapture(LabProcess tcpdump, string file)
    {
        _tcpdump = tcpdump;
        File = file;
    }

    /// <summary>The pcap file.</summary>
    public string File { get; }

    internal static async Task<PacketCapture> StartAsync(Host host, string interfaceName, string filter)
    {
        var file = Path.Combine(Path.GetTempPath(), $"{host.Namespace}-{interfaceName}-{Guid.NewGuid():N}.pcap");
        // Immediate mode and -U hand each packet to the file as it comes, so stopping loses none;
        // -Z root keeps the right to write the file.
        var tcpdump = host.Start("tcpdump", ["-i", interfaceName, "-n", "--immediate-mode", "-U", "-Z", "root", "-w", file, filter]);
        await tcpdump.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        return new PacketCapture(tcpdump, file);
    }

    /// <summary>Stops capturing (the file is complete afterwards).</summary>
    public Task StopAsync() => _tcpdump.InterruptAsync(TimeSpan.FromSeconds(10));

    /// <summary>
    /// Stops capturing once what tcpdump wrote satisfies <paramref name="complete"/> (or after
    /// 10 s). tcpdump reads packets from the kernel a moment after they pass, and those it has not
    /// read when stopped are lost: on a loaded machine, right after an exchange, that can be all of it.
    /// </summary>
    public async Task StopAsync(Func<IReadOnlyList<string>, bool> complete)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!Holds(complete) && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        await StopAsync();
    }

    private bool Holds(Func<IReadOnlyList<string>, bool> complete)
    {
        try
        {
            return complete(ReadTcpdump());
        }
        catch (InvalidOperationException)
        {
            return false; // read while tcpdump was writing a packet
        }
    }

    /// <summary>
    /// A <see cref="StopAsync(Func{IReadOnlyList{string}, bool})"/> condition: <paramref name="count"/>
    /// connections to <paramref name="port"/> ended (a FIN or a reset towards it).
    /// </summary>
    public static Func<IReadOnlyList<string>, bool> Ended(int port, int count = 1) =>
        packets => packets.Count(p => p.Contains($".{port}: Flags [F", StringComparison.Ordinal)
            || p.Contains($".{port}: Flags [R", StringComparison.Ordinal)) >= count;

    /// <summary>The packets as <c>tcpdump -v -n</c> prints them, each packet's lines joined into one.</summary>
    public IReadOnlyList<string> ReadTcpdump() => ReadTcpdump("-v");

    /// <summary>
    /// The packets as <c>tcpdump VERBOSITY -n</c> prints them (<c>-vv</c> checks every TCP checksum:
    /// "(correct)" or "(incorrect -&gt; ...)"), each packet's lines joined into one.
    /// </summary>
    public IReadOnlyList<string> ReadTcpdump(string verbosity)
    {
        var text = Shell.Run("tcpdump", verbosity, "-n", "-r", File);
        var packets = new List<string>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (char.IsWhiteSpace(line[0]) && packets.Count > 0)
                packets[^1] += " " + line.Trim();
            else
                packets.Add(line);
        }
        return packets;
    }

    /// <summary>Fields tshark decodes from each packet matching a display filter, '|'-separated.</summary>
    public IReadOnlyList<string[]> ReadFields(string displayFilter, params string[] fields)
    {
        string[] args = ["-r", File, "-Y", displayFilter, "-T", "fields", "-E", "separator=|", "-E", "aggregator=,"];
        var text = Shell.Run("tshark", [.. args, .. fields.SelectMany(f => new[] { "-e", f })]);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('|')).ToArray();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _tcpdump.DisposeAsync();
        System.IO.File.Delete(File);
    }
}
