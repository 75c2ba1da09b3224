// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Toa.Sockets;

namespace Toa.AspNetCore;

/// <summary>Ways to put <see cref="ToaConnectionMiddleware"/> in front of Kestrel endpoints.</summary>
public static class ToaExtensions
{
    private static readonly ConditionalWeakTable<ListenOptions, object> s_applied = [];

    /// <summary>
    /// Every Kestrel endpoint reports real clients: <c>builder.WebHost.UseToa();</c>.
    /// </summary>
    public static IWebHostBuilder UseToa(this IWebHostBuilder builder, Action<ToaOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureServices(services =>
        {
            services.AddToa(configure);
            services.AddOptions<KestrelServerOptions>().Configure(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.UseToa()));
        });
    }

    /// <summary>
    /// Registers <see cref="ToaOptions"/> (validated when the host starts), the resolver and the <c>Toa.AspNetCore</c>
    /// meter for <see cref="UseToa(ListenOptions)"/>, and the request middleware that shows requests a client whose TOA
    /// came with the connection's first data.
    /// </summary>
    public static IServiceCollection AddToa(this IServiceCollection services, Action<ToaOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<ToaOptions>().ValidateOnStart();
        if (configure is not null)
            options.Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ToaOptions>, ToaOptionsValidator>());
        services.AddMetrics();
        services.TryAddSingleton<ToaMetrics>();
        services.TryAddSingleton(sp => ResolverFor(sp.GetRequiredService<IOptions<ToaOptions>>().Value));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, ToaRequestStartupFilter>());
        return services;
    }

    private static RealClientResolver ResolverFor(ToaOptions options) =>
        options.ReceiverPinDirectory == ReceiverRecords.DefaultPinDirectory
            ? RealClientResolver.System
            : new RealClientResolver(new SystemSocketCalls(options.ReceiverPinDirectory));

    /// <summary>This endpoint reports real clients, with <see cref="ToaOptions"/> from DI (defaults if none).</summary>
    public static ListenOptions UseToa(this ListenOptions listenOptions)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        var options = listenOptions.ApplicationServices.GetService<IOptions<ToaOptions>>()?.Value ?? new ToaOptions();
        return listenOptions.UseToa(options);
    }

    /// <summary>This endpoint reports real clients, with options configured here.</summary>
    public static ListenOptions UseToa(this ListenOptions listenOptions, Action<ToaOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new ToaOptions();
        configure(options);
        return listenOptions.UseToa(options);
    }

    /// <summary>This endpoint reports real clients, with these options. Applying it twice has no further effect.</summary>
    public static ListenOptions UseToa(this ListenOptions listenOptions, ToaOptions options)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        ArgumentNullException.ThrowIfNull(options);
        if (s_applied.TryGetValue(listenOptions, out _))
            return listenOptions;
        s_applied.Add(listenOptions, options);
        var services = listenOptions.ApplicationServices;
        var resolver = services.GetService<RealClientResolver>() ?? ResolverFor(options);
        var logger = services.GetService<ILogger<ToaConnectionMiddleware>>() ?? NullLogger<ToaConnectionMiddleware>.Instance;
        var metrics = services.GetService<ToaMetrics>() ?? ToaMetrics.Shared;
        listenOptions.Use(next => new ToaConnectionMiddleware(next, options, resolver, logger, metrics).OnConnectionAsync);
        return listenOptions;
    }
}
