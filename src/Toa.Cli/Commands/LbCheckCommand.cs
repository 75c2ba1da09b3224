// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Text.Json;
using Toa.Balancer;
using Toa.Balancer.Configuration;
using Toa.Balancer.Sender;
using Toa.Cli.Balancer;
using Toa.Cli.CommandLine;
using Toa.Cli.Stats;

namespace Toa.Cli.Commands;

/// <summary><c>toa lb check</c>: validate a configuration without running it.</summary>
internal static class LbCheckCommand
{
    private static readonly Option<string> Config = LbOptions.Config(
        "The configuration file to validate (the same JSON that toa lb --config takes).");

    private static readonly Option<bool> Json = CommonOptions.Json(
        "{\"file\", \"valid\", and when valid \"writes_toa\" and \"listeners\": [{\"name\", \"address\", \"engine\" "
        + "(\"proxy\" or \"packet\"), \"interfaces\" (a packet listener's, or null), \"toa\", \"proxy_protocol\", "
        + "\"toa_on_syn\", \"scheduler\", \"backends\": [{\"address\", \"weight\"}]}], when not \"problems\": [one "
        + "line each]; the exit codes stay");

    public static Command Create()
    {
        var command = new Command("check",
            "Validate a balancer configuration without running it: exit code 0 and a summary of its listeners when it is "
            + "valid, exit code 2 and every problem (file, field, value and reason, one per line) when it is not. Needs no root.\n\n"
            + "Example: toa lb check --config samples/lb.json")
        {
            Config,
            Json,
        };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(Config)!;
            var json = parse.GetValue(Json);
            var output = parse.InvocationConfiguration.Output;
            BalancerConfig config;
            try
            {
                config = BalancerConfigLoader.Load(path);
            }
            catch (BalancerConfigException e) when (json)
            {
                output.WriteLine(StatsJson.Write(w =>
                {
                    w.WriteString("file", path);
                    w.WriteBoolean("valid", false);
                    w.WriteStartArray("problems");
                    foreach (var problem in e.Problems)
                        w.WriteStringValue(problem.ToString());
                    w.WriteEndArray();
                }));
                return (int)ReturnCode.UsageError;
            }
            catch (BalancerConfigException e)
            {
                return LbOptions.WriteProblems(e, parse.InvocationConfiguration.Error);
            }
            var listeners = config.Listeners ?? [];
            if (json)
            {
                output.WriteLine(StatsJson.Write(w => WriteJson(w, path, config)));
                return (int)ReturnCode.Ok;
            }
            output.WriteLine($"{path}: valid, {listeners.Count} listener{(listeners.Count == 1 ? "" : "s")}"
                + NeedsRoot(config));
            foreach (var l in listeners)
            {
                var backends = l.Backends ?? [];
                output.WriteLine($"  {l.Name}: {l.Address}, "
                    + (EngineNames.IsPacket(l) ? $"packet engine{(l.Interfaces is { } names ? " on " + string.Join(", ", names) : "")}, " : "")
                    + $"toa {l.Toa ?? Toa.Balancer.ToaSettings.Off}{(l.ToaOnSyn == true ? " (in the SYN too)" : "")}, "
                    + (ProxyProtocolNames.TryParse(l.ProxyProtocol, out var proxy) && proxy ? "PROXY protocol v2, " : "")
                    + $"{ConfigDefaults.SchedulerOf(l)}, {backends.Count} backend{(backends.Count == 1 ? "" : "s")}: "
                    + string.Join(", ", backends.Select(b => b.Weight is { } w && w != 1 ? $"{b.Address} (weight {w})" : b.Address)));
            }
            return (int)ReturnCode.Ok;
        });
        return command;
    }

    /// <summary>Why <c>toa lb</c> needs root for this configuration, as the end of the summary line; empty when it does not.</summary>
    private static string NeedsRoot(BalancerConfig config) =>
        SenderToaWriter.IsNeededFor(config) ? "; writes TOA, so toa lb needs root"
        : (config.Listeners ?? []).Any(EngineNames.IsPacket) ? "; runs the packet engine, so toa lb needs root"
        : "";

    private static void WriteJson(Utf8JsonWriter json, string path, BalancerConfig config)
    {
        json.WriteString("file", path);
        json.WriteBoolean("valid", true);
        json.WriteBoolean("writes_toa", (config.Listeners ?? []).Any(l => ToaSettings.TryParse(l.Toa, out var format) && format is not null));
        json.WriteStartArray("listeners");
        foreach (var l in config.Listeners ?? [])
        {
            json.WriteStartObject();
            json.WriteString("name", l.Name);
            json.WriteString("address", l.Address);
            json.WriteString("engine", EngineNames.IsPacket(l) ? EngineNames.Packet : EngineNames.Proxy);
            if (l.Interfaces is { } interfaces)
            {
                json.WriteStartArray("interfaces");
                foreach (var name in interfaces)
                    json.WriteStringValue(name);
                json.WriteEndArray();
            }
            else
            {
                json.WriteNull("interfaces");
            }
            json.WriteString("toa", l.Toa ?? Toa.Balancer.ToaSettings.Off);
            json.WriteBoolean("proxy_protocol", ProxyProtocolNames.TryParse(l.ProxyProtocol, out var proxy) && proxy);
            json.WriteBoolean("toa_on_syn", l.ToaOnSyn == true);
            json.WriteString("scheduler", ConfigDefaults.SchedulerOf(l));
            json.WriteStartArray("backends");
            foreach (var b in l.Backends ?? [])
            {
                json.WriteStartObject();
                json.WriteString("address", b.Address);
                json.WriteNumber("weight", b.Weight ?? 1);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }
}
