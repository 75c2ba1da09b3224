// SPDX-License-Identifier: MIT
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Toa.AspNetCore;

/// <summary>
/// Puts the client of a connection resolved late (its TOA came with the first data segment) on each
/// of its requests. Kestrel copies a connection's remote endpoint into every request when the request
/// begins, before its bytes are read, so the connection middleware alone cannot show it.
/// </summary>
internal sealed class ToaRequestStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(static following => context =>
        {
            if (context.Features.Get<IToaFeature>() is LateToaFeature late)
            {
                var client = late.Resolved.Client;
                context.Connection.RemoteIpAddress = client.Address;
                context.Connection.RemotePort = client.Port;
            }
            return following(context);
        });
        next(app);
    };
}
