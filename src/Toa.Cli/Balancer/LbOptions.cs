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

    /// <summary>--admin SOCKET|ADDRESS:PORT, checked as the configuration checks its "adminSocket" and "admin" fields.</summary>
    public static Option<string?> Admin() => new("--admin")
    {
        Description = "Where the running balancer's admin endpoint is: its Unix socket (the configuration's \"adminSocket\"), "
            + "an absolute path, or its TCP address (\"admin\"), ADDRESS:PORT or [IPv6]:PORT, e.g. 127.0.0.1:9181. "
            + $"Default: {ConfigDefaults.AdminSocket}. Over TCP, commands need --token-file.",
        HelpName = "SOCKET|ADDRESS:PORT",
        Validators =
        {
            r =>
            {
                var text = r.Tokens[0].Value;
                if (!Path.IsPathFullyQualified(text) && !Endpoints.TryParse(text, out _))
                    r.AddError($"--admin: '{text}' is neither a socket path (/run/toa/lb.sock) nor ADDRESS:PORT or [IPv6]:PORT, e.g. 127.0.0.1:9180");
            },
        },
    };

    /// <summary>--token-file FILE: the token commands over TCP carry.</summary>
    public static Option<FileInfo?> TokenFile() => new("--token-file")
    {
        Description = "A file holding the admin token (the balancer's \"adminTokenFile\"), sent with commands when --admin is a TCP address. "
            + "The socket needs none: its file mode says who may use it.",
        HelpName = "FILE",
    };

    /// <summary>--json: print the answer as JSON.</summary>
    public static Option<bool> Json(string what) => new("--json")
    {
        Description = $"Print {what} as JSON instead of text.",
    };

    /// <summary>A client for the endpoint <paramref name="admin"/> names, with the token <paramref name="tokenFile"/> holds.</summary>
    public static BalancerAdminClient Client(ParseResult parse, Option<string?> admin, Option<FileInfo?>? tokenFile = null)
    {
        string? token = null;
        if (tokenFile is not null && parse.GetValue(tokenFile) is { } file)
        {
            try
            {
                token = File.ReadAllText(file.FullName).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"--token-file: {e.Message}");
            }
        }
        return new(parse.GetValue(admin) ?? ConfigDefaults.AdminSocket, token);
    }

    /// <summary>Every problem of a configuration, one per line naming file, field and reason; returns the usage-error code.</summary>
    public static int WriteProblems(BalancerConfigException e, TextWriter error)
    {
        using var logging = Logging.Create(error, verbose: false);
        var log = logging.CreateLogger(Logging.Category);
        foreach (var problem in e.Problems)
            CliLog.ConfigProblem(log, problem.ToString());
        return (int)ReturnCode.UsageError;
    }

    /// <summary>The admin endpoint's answer to <paramref name="call"/>; a refusal, or an endpoint that cannot be reached, is one line and exit code 1.</summary>
    public static async Task<T> AskAsync<T>(Task<T> call)
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (BalancerAdminException e)
        {
            throw new CliException(e.Message);
        }
    }
}

/// <summary>The admin endpoint's answers as JSON, for <c>toa lb status|drain|disable|enable|reload --json</c>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(BalancerStatus))]
[JsonSerializable(typeof(AdminCommandResult))]
[JsonSerializable(typeof(AdminReloadResult))]
internal sealed partial class LbJsonContext : JsonSerializerContext;
