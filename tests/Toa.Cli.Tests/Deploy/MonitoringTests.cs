// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Toa.Balancer;
using Toa.Balancer.Configuration;
using Toa.Cli.Metrics;
using Toa.Lab;
using Toa.Receiver;
using Toa.Testing;

namespace Toa.Cli.Tests.Deploy;

/// <summary>deploy/: the alert rules pass promtool, and the dashboard graphs only metrics the exporters expose.</summary>
public sealed partial class MonitoringTests
{
    private static readonly string Rules = Path.Combine(CSamples.RepoRoot, "deploy", "prometheus", "toa-rules.yml");
    private static readonly string RuleTests = Path.Combine(CSamples.RepoRoot, "deploy", "prometheus", "toa-rules.test.yml");
    private static readonly string Dashboard = Path.Combine(CSamples.RepoRoot, "deploy", "grafana", "toa.json");

    [Fact]
    public void Rules_PromtoolCheckRules_Succeeds()
    {
        var result = Shell.TryRun(ToolTest.Require("/usr/bin/promtool", "prometheus"), "check", "rules", Rules);

        Assert.True(result.ExitCode == 0, result.StandardOutput + result.StandardError);
    }

    [Fact]
    public void Rules_PromtoolTestRules_EveryCasePasses()
    {
        var result = Shell.TryRun(ToolTest.Require("/usr/bin/promtool", "prometheus"), "test", "rules", RuleTests);

        Assert.True(result.ExitCode == 0, result.StandardOutput + result.StandardError);
    }

    [Fact]
    public async Task Rules_EveryExpression_NamesMetricsTheExportersExpose()
    {
        var exposed = await ExposedAsync();

        var rules = string.Join('\n', File.ReadLines(Rules).Where(l => !l.TrimStart().StartsWith('#')));
        var names = MetricName().Matches(rules).Select(m => m.Value).Distinct().ToList();

        Assert.NotEmpty(names);
        Assert.All(names, name => Assert.True(exposed.Contains(name), $"{name} is exposed by no exporter"));
    }

    [Fact]
    public async Task Dashboard_EveryPanelExpression_NamesMetricsTheExportersExpose()
    {
        var exposed = await ExposedAsync();
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Dashboard));

        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .Where(p => p.GetProperty("type").GetString() != "row").ToList();

        Assert.NotEmpty(panels);
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        foreach (var panel in panels)
        {
            var title = panel.GetProperty("title").GetString();
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.True(targets.Count > 0, $"panel {title} graphs nothing");
            foreach (var expr in targets.Select(t => t.GetProperty("expr").GetString()!))
            {
                var names = MetricName().Matches(expr).Select(m => m.Value).ToList();
                Assert.True(names.Count > 0, $"panel {title}: {expr} names no toa metric");
                Assert.All(names, name => Assert.True(exposed.Contains(name), $"panel {title}: {name} is exposed by no exporter"));
            }
        }
    }

    // What the two exporters really write: the receiver's scrape with every counter it knows, and a
    // running balancer's /metrics after a relayed connection and a reload.
    private static async Task<HashSet<string>> ExposedAsync()
    {
        var exposed = new HashSet<string>(StringComparer.Ordinal);
        using (var text = new MemoryStream())
        {
            var counters = new ReceiverCounters([.. ReceiverCounterNames.Where(CounterDescriptions.IsKnown).Select(n => new ToaCounter(n, [0]))]);
            await ReceiverMetrics.WriteAsync(counters, text, CancellationToken.None);
            exposed.UnionWith(Families(System.Text.Encoding.UTF8.GetString(text.ToArray())));
        }
        exposed.UnionWith(Families(await ScrapeBalancerAsync()));
        return exposed;
    }

    // The receiver's counters as README's table lists them: IsKnown keeps only those the receiver describes.
    private static IEnumerable<string> ReceiverCounterNames =>
        MetricName().Matches(File.ReadAllText(Path.Combine(CSamples.RepoRoot, "README.md")))
            .Select(m => m.Value)
            .Where(n => n.StartsWith("toa_receiver_", StringComparison.Ordinal) && n.EndsWith("_total", StringComparison.Ordinal))
            .Select(n => n["toa_receiver_".Length..^"_total".Length])
            .Distinct();

    private static async Task<string> ScrapeBalancerAsync()
    {
        using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        backend.Listen();
        var config = new BalancerConfig
        {
            Admin = "127.0.0.1:0",
            Listeners =
            [
                new ListenerConfig { Name = "web", Address = "127.0.0.1:0", Backends = [new BackendConfig { Address = backend.LocalEndPoint!.ToString()! }] },
            ],
        };
        var provider = new InMemoryConfigProvider(config);
        await using var host = BalancerHost.Start(new BalancerHostOptions { ConfigProvider = provider });
        using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await client.ConnectAsync(host.GetListenerEndPoint("web"));
            using var accepted = await backend.AcceptAsync();
        }
        provider.Update(config with { MaxConnectionsPerSource = 5 });
        using var http = new HttpClient();
        // The relayed connection and the reload are counted by the time the balancer answers a scrape that shows them.
        for (var attempt = 0; ; attempt++)
        {
            var text = await http.GetStringAsync($"http://{host.AdminEndPoint}/metrics");
            if (text.Contains("toa_lb_config_reloads_total{", StringComparison.Ordinal) && text.Contains("toa_lb_connections_total{", StringComparison.Ordinal) || attempt == 50)
                return text;
            await Task.Delay(100);
        }
    }

    private static IEnumerable<string> Families(string exposition) =>
        exposition.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]);

    [GeneratedRegex(@"\btoa_[a-z0-9_]*[a-z0-9]")]
    private static partial Regex MetricName();
}
