// SPDX-License-Identifier: MIT
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Toa.AspNetCore;

/// <summary><c>builder.Services.AddToa(builder.Configuration.GetSection("Toa"))</c>: <see cref="ToaOptions"/> from configuration.</summary>
public static class ToaConfigurationExtensions
{
    /// <summary>
    /// Registers what <see cref="ToaExtensions.AddToa(IServiceCollection, Action{ToaOptions}?)"/> does, with the options read from
    /// <paramref name="configuration"/>: <c>AllowedNetworks</c> (a list of CIDR networks, e.g. <c>["10.0.0.0/8", "fd00::/8"]</c>)
    /// and <c>ReceiverPinDirectory</c>. They are validated when the host starts: a value that is not a network stops it
    /// with a message naming the key and the value.
    /// </summary>
    public static IServiceCollection AddToa(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddToa(options => Bind(configuration, options));
        services.AddSingleton<IValidateOptions<ToaOptions>>(new ConfigurationValidator(configuration));
        return services;
    }

    // By hand rather than through the configuration binder: IPNetwork has no type converter, and this stays trimmable.
    private static void Bind(IConfiguration configuration, ToaOptions options)
    {
        foreach (var (_, text) in Networks(configuration))
        {
            if (IPNetwork.TryParse(text, out var network))
                options.AllowedNetworks.Add(network);
        }
        if (configuration[nameof(ToaOptions.ReceiverPinDirectory)] is { } pins)
            options.ReceiverPinDirectory = pins;
    }

    private static IEnumerable<(string Path, string? Text)> Networks(IConfiguration configuration) =>
        configuration.GetSection(nameof(ToaOptions.AllowedNetworks)).GetChildren().Select(c => (c.Path, c.Value));

    private sealed class ConfigurationValidator(IConfiguration configuration) : IValidateOptions<ToaOptions>
    {
        public ValidateOptionsResult Validate(string? name, ToaOptions options)
        {
            var problems = Networks(configuration)
                .Where(n => !IPNetwork.TryParse(n.Text, out _))
                .Select(n => $"{n.Path} = '{n.Text}': not a network in CIDR notation, such as 10.0.0.0/8 or fd00::/8")
                .ToList();
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}

/// <summary>Checks any <see cref="ToaOptions"/> when the host starts, however they were set.</summary>
internal sealed class ToaOptionsValidator : IValidateOptions<ToaOptions>
{
    public ValidateOptionsResult Validate(string? name, ToaOptions options)
    {
        var problems = new List<string>();
        if (options.AllowedNetworks.Any(n => n == default))
            problems.Add("ToaOptions.AllowedNetworks holds an empty network");
        if (!Path.IsPathFullyQualified(options.ReceiverPinDirectory ?? ""))
            problems.Add($"ToaOptions.ReceiverPinDirectory = '{options.ReceiverPinDirectory}': must be an absolute path, such as /sys/fs/bpf/toa");
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
