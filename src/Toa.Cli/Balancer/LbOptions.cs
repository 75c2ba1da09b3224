// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Text.Json.Serialization;
using Toa.Balancer.Configuration;
using Toa.Balancer.Management;
using Toa.Cli.CommandLine;

namespace Toa.Cli.Balancer;

/// <summary>Options and output the <c>toa lb</c> commands share.</summary>
internal static class LbOptions
{
    /// <summary>--config FILE, required.</summary>
    public static Option<string> Config(string description) => new("--config", "-c")
    {
        Description = description,
        HelpName = "FILE",
        Required = true,
    };

    /// <summary>--admin ADDRESS:PORT, checked as the configuration checks its "admin" field.</summary>
    public static Option<string?> Admin() => new("--admin")
    {
        Description = "Where the running balancer's admin endpoint listens (the \"admin\" field of its configuration): "
            + "ADDRESS:PORT or [IPv6]:PORT, e.g. 127.0.0.1:9181. Default: 127.0.0.1:9180.",
        HelpName = "ADDRESS:PORT",
        Validators =
        {
            r =>
            {
                var text = r.Tokens[0].Value;
                if (!Endpoints.TryParse(text, out _))
                    r.AddError($"--admin: '{text}' is not ADDRESS:PORT or [IPv6]:PORT, e.g. 127.0.0.1:9180");
            },
        },
    };

    /// <summary>A client for the endpoint <paramref name="admin"/> names.</summary>
    public static BalancerAdminClient Client(ParseResult parse, Option<string?> admin) =>
        new(parse.GetValue(admin) ?? ConfigDefaults.Admin);

    /// <summary>Every problem of a configuration, one per line naming file, field and reason; returns the usage-error code.</summary>
    public static int WriteProblems(BalancerConfigException e, TextWriter error)
    {
        using var logging = Logging.Create(error, verbose: false);
        var log = logging.CreateLogger(Logging.Category);
        foreach (var problem in e.Problems)
            CliLog.ConfigProblem(log, problem.ToString());
        return (int)ReturnCode.UsageError;
    }

    /// <summary>A request the admin endpoint refused, or an endpoint that cannot be reached, as one line and exit code 1.</summary>
    public static CliException Failed(BalancerAdminException e) => new(e.Message);
}

/// <summary>The status as JSON, for <c>toa lb status --json</c>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(BalancerStatus))]
internal sealed partial class LbJsonContext : JsonSerializerContext;
