// SPDX-License-Identifier: MIT
using System.Text.Json;
using Toa.Bpf.Features;
using Toa.Lab;
using Toa.Receiver;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary><c>toa status --json</c> and <c>toa table --json</c> with a receiver loaded and a connection held.</summary>
public sealed class StatusTableJsonTests : IDisposable
{
    private const int Port = 8000;
    private readonly ReceiverLab _lab = new();

    public void Dispose() => _lab.Dispose();

    private async Task<JsonElement> JsonAsync(params string[] args)
    {
        var result = await _lab.Server.RunToaAsync("", [.. args, "--json", "--pin-dir", _lab.PinDirectory]);
        Assert.True(result.ExitCode == 0, result.StandardError);
        var line = Assert.Single(result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    [Fact]
    public async Task StatusJson_Loaded_SettingsAndEveryProgram()
    {
        var status = await JsonAsync("status");

        Assert.True(status.GetProperty("loaded").GetBoolean());
        Assert.Equal(_lab.PinDirectory, status.GetProperty("pin_directory").GetString());
        Assert.Equal(_lab.Cgroup.Path, status.GetProperty("cgroup").GetString());
        Assert.Equal(["200/8", "253/20", "254/8", "254/20"], status.GetProperty("formats").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(["sock_ops", "getpeername4", "getpeername6", "getsockopt"],
            status.GetProperty("programs").EnumerateArray().Select(p => p.GetProperty("hook").GetString()));
        Assert.All(status.GetProperty("programs").EnumerateArray(), p => Assert.True(p.GetProperty("program_id").GetUInt32() > 0));
        Assert.Equal(2, status.GetProperty("netns").GetArrayLength());
        Assert.Equal(0, status.GetProperty("trust").GetArrayLength());
        // Without bpf_get_netns_cookie in these programs (before 5.15) records live in socket storage: no map, no size.
        if (FeatureProbes.Kernel.Check(KernelFeatures.NetnsCookie).Supported)
            Assert.Equal(ReceiverOptions.DefaultConnections, status.GetProperty("connections").GetInt32());
        else
            Assert.Equal(JsonValueKind.Null, status.GetProperty("connections").ValueKind);
    }

    [Fact]
    public async Task TableJson_HeldConnection_ListedWithItsRealClient()
    {
        await _lab.StartCServerAsync("-n", "1", $"{Port}");
        await using var client = _lab.Client.Start(ToaCli.Command()[0],
            [.. ToaCli.Command().Skip(1), "connect", $"{_lab.Link.B.Ipv4}:{Port}", "--as", "203.0.113.7:4321"]);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var connections = (await JsonAsync("table")).GetProperty("connections");
        while (connections.GetArrayLength() == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            connections = (await JsonAsync("table")).GetProperty("connections");
        }
        client.StandardInput.Close();

        var c = Assert.Single(connections.EnumerateArray());
        Assert.Equal("IPv4", c.GetProperty("family").GetString());
        Assert.Equal($"{_lab.Link.B.Ipv4}:{Port}", c.GetProperty("local").GetString());
        Assert.StartsWith($"{_lab.Link.A.Ipv4}:", c.GetProperty("peer").GetString());
        Assert.Equal("203.0.113.7:4321", c.GetProperty("client").GetString());
        Assert.Equal("ack", c.GetProperty("from").GetString());
        Assert.True(c.GetProperty("age_seconds").GetDouble() >= 0);
    }
}
