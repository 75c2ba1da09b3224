// SPDX-License-Identifier: MIT
namespace Toa.Testing;

/// <summary>The built <c>toa</c> command, as a test runs it in a lab host.</summary>
public static class ToaCli
{
    /// <summary>The command line prefix that runs toa: its apphost, or dotnet with toa.dll.</summary>
    public static IReadOnlyList<string> Command(params string[] args)
    {
        var apphost = Path.Combine(AppContext.BaseDirectory, "toa");
        if (File.Exists(apphost))
            return [apphost, .. args];
        return ["dotnet", Path.Combine(AppContext.BaseDirectory, "toa.dll"), .. args];
    }
}
