// SPDX-License-Identifier: MIT
using Toa.Balancer.Configuration;

namespace Toa.Balancer.Tests.Configuration;

public sealed class ConfigProviderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("toa-lb-config-").FullName;

    private string File => Path.Combine(_dir, "lb.json");

    private static string Json(int weight) => $$"""
        { "admin": "", "listeners": [ { "name": "web", "address": "127.0.0.1:0",
          "backends": [ { "address": "127.0.0.1:9001", "weight": {{weight}} } ] } ] }
        """;

    private static int Weight(BalancerConfigSnapshot snapshot) => snapshot.Config.Listeners![0].Backends![0].Weight!.Value;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Constructor_InvalidFirstLoad_Throws()
    {
        System.IO.File.WriteAllText(File, Json(0));
        var e = Assert.Throws<BalancerConfigException>(() => new FileConfigProvider(File));
        Assert.Equal("listeners[0].backends[0].weight", Assert.Single(e.Problems).Path);
    }

    [Fact]
    public void Reload_InvalidFile_KeepsRunningConfig()
    {
        System.IO.File.WriteAllText(File, Json(2));
        using var provider = new FileConfigProvider(File);
        var before = provider.Snapshot;
        System.IO.File.WriteAllText(File, Json(0));

        Assert.Equal(ReloadOutcome.Refused, provider.Reload());
        Assert.Same(before, provider.Snapshot);
        Assert.False(before.Changed.IsCancellationRequested);
    }

    [Fact]
    public void Reload_ChangedFile_PublishesNewSnapshotAndSignalsTheOld()
    {
        System.IO.File.WriteAllText(File, Json(2));
        using var provider = new FileConfigProvider(File);
        var before = provider.Snapshot;
        System.IO.File.WriteAllText(File, Json(5));

        Assert.Equal(ReloadOutcome.Applied, provider.Reload());
        Assert.True(before.Changed.IsCancellationRequested);
        Assert.Equal(5, Weight(provider.Snapshot));
        Assert.Equal(2, Weight(before));
    }

    [Fact]
    public void Reload_SameContentRewritten_Unchanged()
    {
        System.IO.File.WriteAllText(File, Json(2));
        using var provider = new FileConfigProvider(File);
        var before = provider.Snapshot;
        System.IO.File.WriteAllText(File, "// same, with a comment\n" + Json(2));

        Assert.Equal(ReloadOutcome.Unchanged, provider.Reload());
        Assert.Same(before, provider.Snapshot);
    }

    [Fact]
    public async Task Watch_FileRewritten_ReloadsByItself()
    {
        System.IO.File.WriteAllText(File, Json(2));
        using var provider = new FileConfigProvider(File);
        var outcomes = new List<ReloadOutcome>();
        provider.Reloaded += (_, outcome) => { lock (outcomes) outcomes.Add(outcome); };
        provider.Watch();
        var before = provider.Snapshot;

        System.IO.File.WriteAllText(File, Json(7));

        await Task.Delay(Timeout.Infinite, before.Changed).ContinueWith(_ => { }).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(7, Weight(provider.Snapshot));
        // The outcome is reported after the new snapshot is published.
        await Eventually.True(() =>
        {
            lock (outcomes)
                return outcomes.Contains(ReloadOutcome.Applied);
        }, "the reload is reported as applied");
    }

    [Fact]
    public void InMemoryUpdate_InvalidConfig_ThrowsAndKeepsTheOld()
    {
        var good = BalancerConfigLoader.Parse(Json(2), "test");
        var provider = new InMemoryConfigProvider(good);
        var bad = good with { MaxConnections = -1 };

        Assert.Throws<BalancerConfigException>(() => provider.Update(bad));
        Assert.Same(good, provider.Snapshot.Config);
        Assert.True(provider.Update(good with { MaxConnections = 10 }));
        Assert.False(provider.Update(good with { MaxConnections = 10 }));
    }
}
