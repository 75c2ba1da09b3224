// SPDX-License-Identifier: MIT
using System.IO.Compression;
using Toa.Lab;
using Toa.Testing;

namespace Toa.Cli.Tests.Packages;

/// <summary>
/// The packages meant for users restore from a feed holding only ours (Microsoft's come from the public
/// registry): a new project in a temporary folder references them, builds and runs.
/// </summary>
public sealed class PackageFeedTests : IDisposable
{
    private static readonly string[] ForUsers = ["Toa.Core", "Toa.Bpf", "Toa.Receiver", "Toa.AspNetCore"];
    private static readonly string[] Packed = [.. ForUsers, "Toa.Balancer"];

    private readonly string _root = Directory.CreateTempSubdirectory("toa-feed-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void NewProject_ReferencingThePackages_RestoresBuildsAndRuns()
    {
        var feed = Pack();
        var app = Directory.CreateDirectory(Path.Combine(_root, "app")).FullName;
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="toa" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="toa"><package pattern="Toa.*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="Microsoft.*" /><package pattern="System.*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                {string.Join("\n    ", ForUsers.Where(p => p != "Toa.Bpf").Select(p => $"<PackageReference Include=\"{p}\" Version=\"{Version}\" />"))}
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Microsoft.Extensions.DependencyInjection;
            using Microsoft.Extensions.Options;
            using Toa.AspNetCore;
            using Toa.Receiver;
            using Toa.Sockets;

            using var services = new ServiceCollection().AddToa(o => o.AllowedNetworks.Add(System.Net.IPNetwork.Parse("10.0.0.0/8"))).BuildServiceProvider();
            var options = services.GetRequiredService<IOptions<ToaOptions>>().Value;
            Console.WriteLine($"networks {options.AllowedNetworks.Count}, resolver {RealClientResolver.System is not null}, "
                + $"loaded at /nonexistent: {ToaReceiver.IsLoaded("/nonexistent-toa-feed")}");
            """);

        // A packages folder of its own, so no earlier copy of our packages can stand in for the feed's.
        var result = Dotnet(app, "run", "--configfile", Path.Combine(app, "nuget.config"));

        Assert.True(result.ExitCode == 0, result.StandardOutput + result.StandardError);
        Assert.Equal("networks 1, resolver True, loaded at /nonexistent: False", result.StandardOutput.Trim().Split('\n')[^1]);
    }

    [Fact]
    public void EveryPackage_CarriesItsReadmeAndTheLicense()
    {
        var feed = Pack();

        foreach (var id in Packed)
        {
            using var package = ZipFile.OpenRead(Path.Combine(feed, $"{id}.{Version}.nupkg"));
            var entries = package.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("README.md", entries);
            Assert.Contains("LICENSE", entries);
            using var nuspec = new StreamReader(package.Entries.Single(e => e.FullName == $"{id}.nuspec").Open());
            Assert.Contains("<readme>README.md</readme>", nuspec.ReadToEnd());
        }
    }

    private static string Version => typeof(Toa.Sockets.RealClientResolver).Assembly
        .GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : throw new InvalidOperationException("no version");

    // The Release build the tests run from, packed without building again.
    private string Pack()
    {
        var feed = Directory.CreateDirectory(Path.Combine(_root, "feed")).FullName;
        foreach (var id in Packed)
        {
            var result = Dotnet(CSamples.RepoRoot, "pack", Path.Combine(CSamples.RepoRoot, "src", id, $"{id}.csproj"),
                "-c", "Release", "--no-build", "-o", feed, "--nologo", "-v", "quiet");
            Assert.True(result.ExitCode == 0, $"dotnet pack {id}: {result.StandardOutput}{result.StandardError}");
        }
        return feed;
    }

    private ProcessResult Dotnet(string directory, params string[] args) =>
        Shell.TryRun("env", ["-C", directory, $"NUGET_PACKAGES={Path.Combine(_root, "packages")}", "DOTNET_CLI_TELEMETRY_OPTOUT=1", "dotnet", .. args]);
}
