// SPDX-License-Identifier: MIT
// GET /whoami: the client as this server sees it, and how it was learned.
// Listens where --urls (or ASPNETCORE_URLS) says, http://0.0.0.0:8080 by default;
// --Toa:Enabled=false leaves UseToa out (for side-by-side measurements); --Toa:ReceiverPinDirectory=DIR
// names a receiver loaded with toa load --pin-dir DIR; --Toa:ProxyProtocol=true expects a PROXY protocol
// header on every connection (toa lb's "proxyProtocol": "v2", HAProxy's send-proxy-v2).
using System.Text.Json.Serialization;
using Toa.AspNetCore;

var builder = WebApplication.CreateSlimBuilder(args);
if (builder.Configuration.GetValue("Toa:Enabled", true))
    builder.WebHost.UseToa(toa => builder.Configuration.GetSection("Toa").Bind(toa));
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, WhoAmIJson.Default));
var app = builder.Build();

app.MapGet("/whoami", (HttpContext context) =>
{
    var toa = context.Features.Get<IToaFeature>();
    return new WhoAmI(
        context.Connection.RemoteIpAddress?.ToString(),
        context.Connection.RemotePort,
        toa?.Source.ToString() ?? "None",
        toa?.Peer?.ToString());
});

app.Run();

internal sealed record WhoAmI(string? Address, int Port, string LearnedBy, string? SnatPeer);

[JsonSerializable(typeof(WhoAmI))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class WhoAmIJson : JsonSerializerContext;
