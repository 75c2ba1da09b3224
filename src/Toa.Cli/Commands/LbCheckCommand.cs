// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Balancer.Configuration;
using Toa.Balancer.Sender;
using Toa.Cli.Balancer;
using Toa.Cli.CommandLine;

namespace Toa.Cli.Commands;

/// <summary><c>toa lb check</c>: validate a configuration without running it.</summary>
internal static class LbCheckCommand
{
    private static readonly Option<string> Config = LbOptions.Config(
        "The configuration file to validate (the same JSON that toa lb --config takes).");

    public static Command Create()
    {
        var command = new Command("check",
            "Validate a balancer configuration without running it: exit code 0 and a summary of its listeners when it is "
            + "valid, exit code 2 and every problem (file, field, value and reason, one per line) when it is not. Needs no root.\n\n"
            + "Example: toa lb check --config samples/lb.json")
        {
            Config,
        };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(Config)!;
            BalancerConfig config;
            try
            {
                config = BalancerConfigLoader.Load(path);
            }
            catch (BalancerConfigException e)
            {
                return LbOptions.WriteProblems(e, parse.InvocationConfiguration.Error);
            }
            var output = parse.InvocationConfiguration.Output;
            var listeners = config.Listeners ?? [];
            output.WriteLine($"{path}: valid, {listeners.Count} listener{(listeners.Count == 1 ? "" : "s")}"
                + (SenderToaWriter.IsNeededFor(config) ? "; writes TOA, so toa lb needs root" : ""));
            foreach (var l in listeners)
            {
                var backends = l.Backends ?? [];
                output.WriteLine($"  {l.Name}: {l.Address}, toa {l.Toa ?? Toa.Balancer.ToaSettings.Off}{(l.ToaOnSyn == true ? " (in the SYN too)" : "")}, "
                    + (ProxyProtocolNames.TryParse(l.ProxyProtocol, out var proxy) && proxy ? "PROXY protocol v2, " : "")
                    + $"{l.Scheduler ?? ConfigDefaults.Scheduler}, {backends.Count} backend{(backends.Count == 1 ? "" : "s")}: "
                    + string.Join(", ", backends.Select(b => b.Weight is { } w && w != 1 ? $"{b.Address} (weight {w})" : b.Address)));
            }
            return (int)ReturnCode.Ok;
        });
        return command;
    }
}
