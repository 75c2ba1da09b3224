// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Lab;

namespace Toa.EndToEnd.Tests.AspNetCore;

/// <summary>The ASP.NET Core sample (GET /whoami, with UseToa), built beside the tests, as a real server in a lab host.</summary>
internal static class WhoAmISample
{
    /// <summary>
    /// Starts it in <paramref name="host"/> inside the receiver's <paramref name="cgroup"/>, reading the
    /// receiver pinned in <paramref name="pinDirectory"/>, listening on <paramref name="urls"/>, with
    /// <paramref name="settings"/> added to its command line; waits until it serves.
    /// </summary>
    public static async Task<LabProcess> StartAsync(Host host, Cgroup cgroup, string pinDirectory, string urls, params string[] settings)
    {
        var server = host.Start("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "whoami", "WhoAmI.dll"), "--urls", urls,
             "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
             $"--Toa:ReceiverPinDirectory={pinDirectory}", .. settings],
            cgroup.Path);
        await server.WaitForLineAsync(l => l.Contains("Application started", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        return server;
    }
}
