// SPDX-License-Identifier: MIT
using System.Text.Json;
using Toa.Bpf.Features;
using Toa.Testing;

namespace Toa.Cli.Tests.Commands;

/// <summary>--json on the commands that print: one object on one line, on stdout; diagnostics stay on stderr.</summary>
public sealed class JsonOutputTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("toa-json-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task LbCheck_Json_ValidConfigListsListenersAndBackends()
    {
        var path = Write("""
            { "admin": "", "listeners": [ { "name": "web", "address": "127.0.0.1:0", "toa": "tencent",
              "backends": [ { "address": "127.0.0.1:8080" }, { "address": "127.0.0.1:8081", "weight": 3 } ] } ] }
            """);

        var (code, output, error) = await CliHarness.RunAsync("lb", "check", "--config", path, "--json");

        Assert.Equal(0, code);
        Assert.Equal("", error);
        var root = Single(output);
        Assert.Equal(path, root.GetProperty("file").GetString());
        Assert.True(root.GetProperty("valid").GetBoolean());
        Assert.True(root.GetProperty("writes_toa").GetBoolean());
        var listener = Assert.Single(root.GetProperty("listeners").EnumerateArray());
        Assert.Equal("web", listener.GetProperty("name").GetString());
        Assert.Equal("tencent", listener.GetProperty("toa").GetString());
        Assert.False(listener.GetProperty("toa_on_syn").GetBoolean());
        Assert.Equal("proxy", listener.GetProperty("engine").GetString());
        Assert.Equal(JsonValueKind.Null, listener.GetProperty("interfaces").ValueKind);
        Assert.Equal([("127.0.0.1:8080", 1), ("127.0.0.1:8081", 3)],
            listener.GetProperty("backends").EnumerateArray().Select(b => (b.GetProperty("address").GetString(), b.GetProperty("weight").GetInt32())));
    }

    [Fact]
    public async Task LbCheck_JsonInvalidConfig_ProblemsInTheObjectExitTwo()
    {
        var path = Write("""{ "listeners": [ { "name": "web", "address": "127.0.0.1:0", "backends": [ { "address": "127.0.0.1:80", "weight": 0 } ] } ] }""");

        var (code, output, error) = await CliHarness.RunAsync("lb", "check", "--config", path, "--json");

        Assert.Equal(2, code);
        Assert.Equal("", error);
        var root = Single(output);
        Assert.False(root.GetProperty("valid").GetBoolean());
        Assert.Equal([$"{path}: listeners[0].backends[0].weight = 0: must be 1 to 65535"],
            root.GetProperty("problems").EnumerateArray().Select(p => p.GetString()));
    }

    [Fact]
    public async Task Status_JsonNotLoaded_LoadedFalseExitOne()
    {
        KernelTest.Require("root");

        var (code, output, error) = await CliHarness.RunAsync("status", "--pin-dir", "/nonexistent-toa-test", "--json");

        Assert.Equal(1, code);
        Assert.Equal("", error);
        Assert.Equal("""{"loaded":false,"pin_directory":"/nonexistent-toa-test"}""", output.TrimEnd('\n'));
    }

    [Fact]
    public async Task Table_JsonNotLoaded_ErrorOnStderrNothingOnStdout()
    {
        KernelTest.Require("root");

        var (code, output, error) = await CliHarness.RunAsync("table", "--pin-dir", "/nonexistent-toa-test", "--json");

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.StartsWith("fail: toa[2] TOA is not loaded", error);
    }

    [Fact]
    public async Task Features_Json_EveryFeatureOnceAndTheExitCodeAgrees()
    {
        KernelTest.Require("root");

        var (code, output, _) = await CliHarness.RunAsync("features", "--json");

        var root = Single(output);
        var features = root.GetProperty("features").EnumerateArray().ToList();
        Assert.Equal(KernelFeatures.All.Select(f => f.Id), features.Select(f => f.GetProperty("id").GetString()));
        var missing = features.Count(f => !f.GetProperty("supported").GetBoolean() && f.GetProperty("fallback").ValueKind == JsonValueKind.Null);
        Assert.Equal(missing, root.GetProperty("missing_required").GetInt32());
        Assert.Equal(missing == 0 ? 0 : 1, code);
        Assert.All(features.Where(f => !f.GetProperty("supported").GetBoolean()), f => Assert.NotNull(f.GetProperty("reason").GetString()));
    }

    private static JsonElement Single(string output)
    {
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    private string Write(string json)
    {
        var path = Path.Combine(_directory, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
