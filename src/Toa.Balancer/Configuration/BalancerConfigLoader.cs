// SPDX-License-Identifier: MIT
using System.Text.Json;
using Toa.Balancer.Scheduling;

namespace Toa.Balancer.Configuration;

/// <summary>
/// Reads, parses and validates configuration files. Every problem of a file is reported
/// at once in one <see cref="BalancerConfigException"/>; syntax errors carry file:line.
/// </summary>
public static class BalancerConfigLoader
{
    /// <summary>Loads and validates <paramref name="path"/>.</summary>
    /// <param name="path">The JSON file.</param>
    /// <param name="policies">The scheduling policies a listener may name; the built-in ones when null.</param>
    /// <exception cref="BalancerConfigException">The file is missing, does not parse or is invalid.</exception>
    public static BalancerConfig Load(string path, IEnumerable<ISchedulingPolicy>? policies = null)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BalancerConfigException([new ConfigProblem(path, "", null, e.Message)]);
        }
        return Parse(json, path, policies);
    }

    /// <summary>Parses and validates JSON text; <paramref name="source"/> names it in problems.</summary>
    /// <exception cref="BalancerConfigException">The text does not parse or is invalid.</exception>
    public static BalancerConfig Parse(string json, string source, IEnumerable<ISchedulingPolicy>? policies = null)
    {
        BalancerConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(json, ConfigJsonContext.Default.BalancerConfig);
        }
        catch (JsonException e)
        {
            throw new BalancerConfigException([SyntaxProblem(e, source)]);
        }
        if (config is null)
            throw new BalancerConfigException([new ConfigProblem(source, "", "null", "the configuration must be a JSON object")]);
        Validate(config, source, policies);
        return config;
    }

    /// <summary>Validates a configuration built in code; <paramref name="source"/> names it in problems.</summary>
    /// <exception cref="BalancerConfigException">The configuration is invalid.</exception>
    public static void Validate(BalancerConfig config, string source, IEnumerable<ISchedulingPolicy>? policies = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var problems = new ConfigProblems(source);
        if (CheckStructure(config, problems))
        {
            var names = (policies ?? SchedulingPolicies.BuiltIn).Select(p => p.Name).ToArray();
            IConfigValidator[] global = [new GlobalValidator(), new ListenerIdentityValidator(), new LogValidator(), new EngineValidator()];
            IListenerValidator[] perListener =
            [
                new ToaValidator(), new ProxyProtocolValidator(), new SchedulerValidator(names), new SnatValidator(),
                new TimeoutValidator(), new RetriesValidator(), new HealthValidator(), new BackendValidator(),
            ];
            foreach (var validator in global)
                validator.Validate(config, problems);
            var listeners = config.Listeners ?? [];
            for (var i = 0; i < listeners.Count; i++)
            {
                foreach (var validator in perListener)
                    validator.Validate(listeners[i], $"listeners[{i}]", problems);
            }
        }
        if (problems.Items.Count > 0)
            throw new BalancerConfigException(problems.Items);
    }

    /// <summary>
    /// Null list entries get past the deserializer, which checks the nullability of properties,
    /// not of elements; the validators assume objects, so these are reported first and alone.
    /// </summary>
    private static bool CheckStructure(BalancerConfig config, ConfigProblems problems)
    {
        var listeners = config.Listeners ?? [];
        for (var i = 0; i < listeners.Count; i++)
        {
            if (listeners[i] is not { } listener)
            {
                problems.Add($"listeners[{i}]", "null", "must be an object");
                continue;
            }
            var interfaces = listener.Interfaces ?? [];
            for (var j = 0; j < interfaces.Count; j++)
            {
                if (interfaces[j] is null)
                    problems.Add($"listeners[{i}].interfaces[{j}]", "null", "must be a string");
            }
            var backends = listener.Backends ?? [];
            for (var j = 0; j < backends.Count; j++)
            {
                if (backends[j] is null)
                    problems.Add($"listeners[{i}].backends[{j}]", "null", "must be an object");
            }
        }
        return problems.Items.Count == 0;
    }

    private static ConfigProblem SyntaxProblem(JsonException e, string source)
    {
        var path = e.Path is { } p ? p.TrimStart('$').TrimStart('.') : "";
        int? line = e.LineNumber is { } n ? (int)n + 1 : null;
        return new ConfigProblem(source, path, null, Reason(e), line);
    }

    /// <summary>The deserializer's message without its position suffix and .NET type names.</summary>
    private static string Reason(JsonException e)
    {
        // Type mismatches inside objects built through constructors name the object, not the
        // field; the reader's own message says what it found.
        const string token = "Cannot get the value of a token type '";
        if (e.InnerException is InvalidOperationException inner && inner.Message.StartsWith(token, StringComparison.Ordinal))
        {
            var found = inner.Message[token.Length..inner.Message.IndexOf('\'', token.Length)];
            var asAt = inner.Message.LastIndexOf(" as a ", StringComparison.Ordinal);
            var expected = asAt < 0 ? "another type" : "a " + inner.Message[(asAt + 6)..].TrimEnd('.');
            return $"expected {expected}, not {found.ToLowerInvariant()}";
        }
        var message = e.Message;
        var cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut < 0)
            cut = message.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        var reason = cut >= 0 ? message[..cut] : message;
        const string unmapped = "The JSON property '";
        if (reason.StartsWith(unmapped, StringComparison.Ordinal))
            return $"unknown field '{reason[unmapped.Length..reason.IndexOf('\'', unmapped.Length)]}'";
        const string convert = "The JSON value could not be converted to ";
        if (reason.StartsWith(convert, StringComparison.Ordinal))
            return "this kind of value does not belong here";
        return reason;
    }
}
