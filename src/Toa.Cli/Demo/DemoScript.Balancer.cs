// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Bpf;
using Toa.Cli.CommandLine;
using Toa.Lab;
using Toa.Sender;

namespace Toa.Cli.Demo;

/// <summary>The demo's balancer step: toa lb in its host, the real servers behind it, a connection from each client.</summary>
internal sealed partial class DemoScript
{
    private const int FrontPort = 80;
    private const int CServerPort = 8000;
    private const int WhoAmIPort = 8080;

    private async Task ShowBalancerAsync(BalancerNetwork hosts, Cgroup cgroup, string pins, CancellationToken cancel)
    {
        var files = Directory.CreateTempSubdirectory("toa-demo-");
        try
        {
            // The three processes start side by side; each is waited for below.
            var whoAmIPath = Path.Combine(AppContext.BaseDirectory, "whoami", "WhoAmI.dll");
            await using var whoAmI = File.Exists(whoAmIPath)
                ? hosts.Server.Start("dotnet",
                    [whoAmIPath, "--urls", $"http://{hosts.ServerAddress}:{WhoAmIPort}", $"--Toa:ReceiverPinDirectory={pins}",
                     "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information"],
                    cgroup.Path)
                : null;
            var configPath = Path.Combine(files.FullName, "lb.json");
            var listeners = WriteBalancerConfig(configPath, hosts, withWhoAmI: whoAmI is not null);
            var self = SelfCommand("lb", "--config", configPath);
            var balancer = hosts.Balancer.Start(self[0], self.Skip(1));
            try
            {
                await using var cServer = await StartCServerAsync(hosts.Server, cgroup, CServerPort, files.FullName);
                Say($"The real server runs, unchanged, in the receiver's cgroup: the C server on port {CServerPort}"
                    + (whoAmI is null ? "" : $" and the ASP.NET Core sample WhoAmI (one line: UseToa) on port {WhoAmIPort}") + ".");
                if (whoAmI is not null)
                    await whoAmI.WaitForLineAsync(l => l.Contains("Application started", StringComparison.Ordinal), StepTimeout);
                else
                    output.WriteLine($"  (WhoAmI is skipped: it is not built beside this toa, in {Path.GetDirectoryName(whoAmIPath)}; ./toa builds it there)");

                Say($"The balancer: toa lb with TOA \"tencent\", listening on {hosts.BalancerFor4}:{FrontPort} and [{hosts.BalancerFor6}]:{FrontPort}"
                    + (whoAmI is null ? "" : $" (and :{WhoAmIPort})") + $", connecting to the server from {hosts.BalancerToServer}:");
                output.WriteLine($"  lb# toa lb --config lb.json");
                await balancer.WaitForLineAsync(_ => balancer.Error.Count(l => l.Contains(" accepting on ", StringComparison.Ordinal)) == listeners, StepTimeout);
                foreach (var line in balancer.Error.Where(l => l.Contains(" accepting on ", StringComparison.Ordinal)))
                    output.WriteLine($"  {line.Trim()}");

                await ShowCServerAsync(hosts, cServer);
                cancel.ThrowIfCancellationRequested();
                if (whoAmI is not null)
                    await ShowWhoAmIAsync(hosts);

                Say("The balancer's own view:");
                var status = await RunAsync(hosts.Balancer, "lb$", "toa lb status", SelfCommand("lb", "status"));
                foreach (var line in status.StandardOutput.Split('\n'))
                    output.WriteLine($"  {line}");
            }
            finally
            {
                await StopBalancerAsync(balancer);
            }
        }
        finally
        {
            files.Delete(recursive: true);
        }
    }

    /// <summary>One line from each client through the balancer to the C server, what it printed, and what tcpdump saw.</summary>
    private async Task ShowCServerAsync(BalancerNetwork hosts, LabProcess cServer)
    {
        await using var capture = await hosts.Server.CaptureAsync(hosts.ServerInterface, $"tcp dst port {CServerPort}");
        Say("Each client sends a line through the balancer (socat: a plain TCP client, nothing about TOA):");
        foreach (var (client, target) in new[] { (hosts.Client4, $"{hosts.BalancerFor4}:{FrontPort}"), (hosts.Client6, $"[{hosts.BalancerFor6}]:{FrontPort}") })
        {
            var result = await RunAsync(client, $"{client.Name}$", $"socat - TCP:{target}", ["socat", "-t5", "-", $"TCP:{target}"], "hello\n");
            if (result.StandardOutput.Trim() != "hello")
                throw new CliException($"demo: {client.Name} got \"{result.StandardOutput.Trim()}\" back instead of its line");
            output.WriteLine($"  {result.StandardOutput.Trim()}  (echoed by the server)");
        }
        var seen4 = await ServerLineAsync(cServer, $"real client v4 [{hosts.Client4Address}]:");
        var seen6 = await ServerLineAsync(cServer, $"real client v6 [{hosts.Client6Address}]:");
        // Each client's handshake ACK and first data segment carry a TOA.
        await capture.StopAsync(packets => packets.Count(p => p.Contains("unknown-", StringComparison.Ordinal)) >= 4);

        Say($"What the C server printed (the connections come from {hosts.BalancerToServer}, the balancer):");
        foreach (var index in new[] { seen4, seen6 })
        {
            var lines = cServer.Output;
            output.WriteLine($"  {lines.Take(index).Last(l => l.StartsWith("accepted", StringComparison.Ordinal))}");
            output.WriteLine($"  {lines[index]}");
        }
        output.WriteLine("  The IPv4 client: accept() and getpeername() give its own address and port (kind 200; no code change).");
        output.WriteLine("  The IPv6 client: accept() keeps the balancer's IPv4 address; getsockopt(IPPROTO_IP, 4096) gives the client (kind 253).");

        Say("What tcpdump -v on the server saw in the packets that carry a TOA:");
        ShowToaPackets(capture.ReadTcpdump());
    }

    /// <summary>The index of the C server's first line starting with <paramref name="prefix"/>, once printed.</summary>
    private static async Task<int> ServerLineAsync(LabProcess cServer, string prefix)
    {
        bool Match(string l) => l.StartsWith(prefix, StringComparison.Ordinal);
        try
        {
            await cServer.WaitForLineAsync(Match, StepTimeout);
        }
        catch (TimeoutException)
        {
            throw new CliException($"demo: the C server never printed \"{prefix}...\"; it printed:\n{cServer.Transcript}");
        }
        return cServer.Output.ToList().FindIndex(l => Match(l));
    }

    /// <summary>GET /whoami from each client through the balancer; curl prints its own end of the connection to compare.</summary>
    private async Task ShowWhoAmIAsync(BalancerNetwork hosts)
    {
        Say("Each client asks WhoAmI, through the balancer, who it is:");
        foreach (var (client, url) in new[] { (hosts.Client4, $"http://{hosts.BalancerFor4}:{WhoAmIPort}/whoami"), (hosts.Client6, $"http://[{hosts.BalancerFor6}]:{WhoAmIPort}/whoami") })
        {
            var result = await RunAsync(client, $"{client.Name}$", $"curl -s {url}", ["curl", "-sg", "-w", "\\n%{local_ip} %{local_port}\\n", url]);
            var lines = result.StandardOutput.Trim().Split('\n');
            output.WriteLine($"  {lines[0]}");
            output.WriteLine($"  (curl's own end of the connection: {lines[^1]})");
        }
    }

    /// <summary>Writes the balancer's configuration; returns how many listeners it has.</summary>
    private static int WriteBalancerConfig(string path, BalancerNetwork hosts, bool withWhoAmI)
    {
        string Listener(string name, string address, int port) =>
            $$"""{ "name": "{{name}}", "address": "{{address}}", "toa": "tencent", "health": { "interval": "1m" }, "backends": [ { "address": "{{hosts.ServerAddress}}:{{port}}" } ] }""";
        List<string> listeners =
        [
            Listener("tcp4", $"{hosts.BalancerFor4}:{FrontPort}", CServerPort),
            Listener("tcp6", $"[{hosts.BalancerFor6}]:{FrontPort}", CServerPort),
        ];
        if (withWhoAmI)
        {
            listeners.Add(Listener("web4", $"{hosts.BalancerFor4}:{WhoAmIPort}", WhoAmIPort));
            listeners.Add(Listener("web6", $"[{hosts.BalancerFor6}]:{WhoAmIPort}", WhoAmIPort));
        }
        File.WriteAllText(path, $$"""{ "shutdownTimeout": "1s", "listeners": [ {{string.Join(",\n", listeners)}} ] }""");
        return listeners.Count;
    }

    /// <summary>Ctrl+C to toa lb, which then removes its cgroup; if it does not stop in time, kill it and remove the cgroup here.</summary>
    private static async Task StopBalancerAsync(LabProcess balancer)
    {
        try
        {
            await balancer.InterruptAsync(TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            balancer.Kill();
            // The balancer started in this process's cgroup, and its sender's cgroup sits below it.
            if (ToaSender.LeftBehind(Cgroup.OfProcess(Environment.ProcessId), balancer.Id) is { } left)
                RemoveWhenEmpty(left);
        }
        await balancer.DisposeAsync();
    }
}
