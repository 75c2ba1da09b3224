// SPDX-License-Identifier: MIT
using System.Net;
using System.Text.RegularExpressions;
using Toa.Cli.CommandLine;
using Toa.Lab;
using Toa.Wire;

namespace Toa.Cli.Demo;

/// <summary>
/// The steps of <c>toa demo</c>, narrated as they run: the two scenarios of Tencent Cloud's TOA guide on one machine. An IPv4
/// client and an IPv6 client, each a host of its own, reach real servers through <c>toa lb</c> in a
/// host of its own; the servers run with the receiver and print the clients they see.
/// </summary>
internal sealed partial class DemoScript(TextWriter output)
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    public async Task RunAsync(CancellationToken cancel)
    {
        using var hosts = new BalancerNetwork("toa-demo");
        Say("Four hosts (network namespaces joined by veth links; the addresses exist only inside them):");
        output.WriteLine($"  client4  {hosts.Client4Address}   (an IPv4 client: the hybrid-cloud / SNAT case)");
        output.WriteLine($"  client6  {hosts.Client6Address}   (an IPv6 client in front of an IPv4 server: the NAT64 case)");
        output.WriteLine($"  lb       {hosts.BalancerFor4} and {hosts.BalancerFor6} toward the clients, {hosts.BalancerToServer} toward the server");
        output.WriteLine($"  server   {hosts.ServerAddress}");
        await WithReceiverAsync(hosts.Server, (cgroup, pins) => ShowBalancerAsync(hosts, cgroup, pins, cancel));
        Say("Done; the namespaces are removed.");
    }

    /// <summary>What the capture saw that carries a TOA, each option decoded.</summary>
    private void ShowToaPackets(IEnumerable<string> packets)
    {
        foreach (var packet in packets.Where(p => p.Contains("unknown-", StringComparison.Ordinal)))
        {
            output.WriteLine($"  {Summarize(packet)}");
            foreach (var option in TcpdumpText.ParseOptions(packet))
                if (ToaAddress.TryDecode(option.AsSpan(), ToaLayouts.All, out var toa))
                    output.WriteLine($"      decoded: kind {toa.Layout.Kind()}, length {toa.Layout.Length()} ({toa.Layout.Format().Name()}): client {toa.Client}");
        }
    }

    // "IP (...) 10.200.1.1.4242 > 10.200.1.2.8000: Flags [.], ..., options [...], length 0" -> the parts that matter.
    private static string Summarize(string packet)
    {
        var m = PacketLine().Match(packet);
        return m.Success ? $"{m.Groups[1]} > {m.Groups[2]} Flags [{m.Groups[3]}] options [{m.Groups[4]}]" : packet;
    }

    [GeneratedRegex(@"(\S+) > (\S+): Flags \[([^\]]*)\].*?options \[([^\]]*)\]")]
    private static partial Regex PacketLine();

    private void Say(string text) => output.WriteLine($"== {text}");

    /// <summary>Runs <paramref name="command"/> in <paramref name="host"/>, showing it as <paramref name="shown"/> typed at <paramref name="prompt"/>.</summary>
    private async Task<ProcessResult> RunAsync(Host host, string prompt, string shown, string[] command, string? input = null)
    {
        output.WriteLine($"  {prompt} {(input is null ? "" : $"echo {input.Trim()} | ")}{shown}");
        var result = await host.RunAsync(command[0], command.Skip(1), input);
        if (result.ExitCode != 0)
            throw new CliException($"demo: {shown} failed (exit code {result.ExitCode}): {result.StandardError.Trim()}");
        return result;
    }

    // The command that runs this same toa: the apphost, or dotnet with the entry assembly.
    private static string[] SelfCommand(params string[] args)
    {
        var process = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, Path.Combine(AppContext.BaseDirectory, "toa.dll"), .. args]
            : [process, .. args];
    }
}
