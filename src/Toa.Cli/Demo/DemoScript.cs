// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Lab;
using Toa.Wire;

namespace Toa.Cli.Demo;

/// <summary>The steps of <c>toa demo</c>, narrated as they run.</summary>
internal sealed partial class DemoScript(TextWriter output)
{
    private const int Port = 8000;

    public async Task RunAsync(CancellationToken cancel)
    {
        using var lab = Network.Create("toa-demo");
        var client = lab.AddHost("client");
        var server = lab.AddHost("server");
        var link = lab.Connect(client, server);
        Say($"Two hosts (network namespaces): client {link.A.Ipv4} / {link.A.Ipv6}, server {link.B.Ipv4} / {link.B.Ipv6}.");

        await using var echo = server.Start("socat", [$"TCP6-LISTEN:{Port},fork,reuseaddr", "EXEC:cat"]);
        await using var capture = await server.CaptureAsync(link.B.Name, $"tcp port {Port}");

        await ConnectAsync(client, $"{link.B.Ipv4}:{Port}", "203.0.113.7:4321", "SNAT / hybrid cloud: an IPv4 client travels in kind 200", cancel);
        await ConnectAsync(client, $"[{link.B.Ipv6}]:{Port}", "[2001:db8::7]:2222", "NAT64: an IPv6 client travels in kind 253", cancel);
        await capture.StopAsync();

        Say("What the server's tcpdump -v saw in the packets that carry a TOA:");
        foreach (var packet in capture.ReadTcpdump().Where(p => p.Contains("unknown-", StringComparison.Ordinal)))
        {
            output.WriteLine($"  {Summarize(packet)}");
            foreach (var option in TcpdumpText.ParseOptions(packet))
                if (ToaAddress.TryDecode(option.AsSpan(), ToaLayouts.All, out var toa))
                    output.WriteLine($"      decoded: kind {toa.Layout.Kind()}, length {toa.Layout.Length()} ({toa.Layout.Format().Name()}): client {toa.Client}");
        }
        await ShowReceiverAsync(client, server, link, cancel);
        Say("Done; the namespaces are removed.");
    }

    private async Task ConnectAsync(Host client, string target, string claimed, string story, CancellationToken cancel)
    {
        Say($"{story}:");
        var self = SelfCommand(["connect", target, "--as", claimed]);
        output.WriteLine($"  client$ echo hello | toa connect {target} --as {claimed}");
        var result = await client.RunAsync(self[0], self.Skip(1), "hello\n");
        cancel.ThrowIfCancellationRequested();
        output.WriteLine($"  {result.StandardOutput.Trim()}  (echoed by the server; exit code {result.ExitCode})");
        if (result.ExitCode != 0)
            throw new CommandLine.CliException($"demo: toa connect failed: {result.StandardError.Trim()}");
    }

    // "IP (...) 10.200.1.1.4242 > 10.200.1.2.8000: Flags [.], ..., options [...], length 0" -> the parts that matter.
    private static string Summarize(string packet)
    {
        var m = PacketLine().Match(packet);
        return m.Success ? $"{m.Groups[1]} > {m.Groups[2]} Flags [{m.Groups[3]}] options [{m.Groups[4]}]" : packet;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"(\S+) > (\S+): Flags \[([^\]]*)\].*?options \[([^\]]*)\]")]
    private static partial System.Text.RegularExpressions.Regex PacketLine();

    private void Say(string text) => output.WriteLine($"== {text}");

    // The command that runs this same toa: the apphost, or dotnet with the entry assembly.
    private static string[] SelfCommand(string[] args)
    {
        var process = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, Path.Combine(AppContext.BaseDirectory, "toa.dll"), .. args]
            : [process, .. args];
    }
}
