// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Balancer.Configuration;
using Toa.Balancer.Packet;

namespace Toa.Balancer.Tests.Configuration;

/// <summary>Packet listeners' fields and the refusals of what the packet engine cannot do.</summary>
public class PacketConfigTests
{
    private const string Valid = """
        {
          "admin": "",
          "listeners": [
            {
              "name": "vip",
              "address": "192.0.2.10:80",
              "engine": "packet",
              "toa": "tencent",
              "backends": [ { "address": "10.0.0.1:8080" }, { "address": "10.0.0.2:8080", "weight": 2 } ]
            }
          ]
        }
        """;

    private static BalancerConfigException Refused(string json) =>
        Assert.Throws<BalancerConfigException>(() => BalancerConfigLoader.Parse(json, "lb.json"));

    private static string WithListenerField(string field) => Valid.Replace("\"name\": \"vip\",", $"\"name\": \"vip\", {field},");

    [Fact]
    public void Load_PacketSample_IsValid()
    {
        var config = BalancerConfigLoader.Load(RepoFiles.Path("samples/lb-packet.json"));
        var listeners = config.Listeners!;
        Assert.Equal([true, true, false], listeners.Select(l => ListenerSettings.From(l).Packet));
        Assert.Equal(["eth0", "eth1"], listeners[1].Interfaces!);
        Assert.Equal(PacketLimits.Settings(null), PacketLimits.Settings(config.Packet));
    }

    [Fact]
    public void ListenerSettingsFrom_PacketListener_MaglevAndNoConnectionLog()
    {
        var config = BalancerConfigLoader.Parse(Valid.Replace("\"admin\": \"\",", "\"admin\": \"\", \"log\": { \"to\": \"stdout\" },"), "lb.json");
        var listener = ListenerSettings.From(config.Listeners![0], config.Log);
        Assert.True(listener.Packet);
        Assert.Equal("packet", listener.Engine);
        Assert.Equal("maglev", listener.Scheduler);
        Assert.Null(listener.LogTo); // the top-level log is the proxy listeners' only
        Assert.Null(listener.Interfaces);
    }

    [Fact]
    public void ListenerSettingsFrom_EngineLeftOut_Proxy()
    {
        var listener = ListenerSettings.From(BalancerConfigLoader.Parse(Valid.Replace("\"engine\": \"packet\",", ""), "lb.json").Listeners![0]);
        Assert.False(listener.Packet);
        Assert.Equal("proxy", listener.Engine);
        Assert.Equal("weighted-round-robin", listener.Scheduler);
    }

    [Fact]
    public void Parse_InterfacesAndPacketSection_Read()
    {
        var config = BalancerConfigLoader.Parse(
            WithListenerField("\"interfaces\": [ \"eth0\", \"veth-lb1\" ]")
                .Replace("\"admin\": \"\",", "\"admin\": \"\", \"packet\": { \"maxConnections\": 1000, \"localPorts\": \"40000-40999\" },"),
            "lb.json");
        Assert.Equal(["eth0", "veth-lb1"], ListenerSettings.From(config.Listeners![0]).Interfaces);
        Assert.Equal(new PacketEngineSettings(1000, 40000, 40999), PacketLimits.Settings(config.Packet));
    }

    [Fact]
    public void PacketLimitsSettings_SectionLeftOut_Defaults() =>
        Assert.Equal(new PacketEngineSettings(131072, 61000, 65535), PacketLimits.Settings(null));

    [Fact]
    public void Parse_Nat64_IPv6ListenerWithIPv4Backends_Accepted()
    {
        var config = BalancerConfigLoader.Parse(Valid.Replace("192.0.2.10:80", "[2001:db8::10]:80"), "lb.json");
        Assert.Equal(IPAddress.Parse("2001:db8::10"), ListenerSettings.From(config.Listeners![0]).EndPoint.Address);
    }

    [Fact]
    public void Equals_EngineOrInterfacesDiffer_NotEqual()
    {
        var a = BalancerConfigLoader.Parse(WithListenerField("\"interfaces\": [ \"eth0\" ]"), "a");
        Assert.Equal(a, BalancerConfigLoader.Parse(WithListenerField("\"interfaces\": [ \"eth0\" ]"), "b"));
        Assert.Equal(a.GetHashCode(), BalancerConfigLoader.Parse(WithListenerField("\"interfaces\": [ \"eth0\" ]"), "b").GetHashCode());
        Assert.NotEqual(a, BalancerConfigLoader.Parse(WithListenerField("\"interfaces\": [ \"eth1\" ]"), "c"));
        Assert.NotEqual(a, BalancerConfigLoader.Parse(Valid, "d"));
        var packet = BalancerConfigLoader.Parse(Valid.Replace("\"admin\": \"\",", "\"admin\": \"\", \"packet\": { \"maxConnections\": 5 },"), "e");
        Assert.NotEqual(BalancerConfigLoader.Parse(Valid, "f"), packet);
    }

    [Theory]
    [InlineData("\"scheduler\": \"round-robin\"", "listeners[0].scheduler", "the packet engine schedules in the kernel with Maglev only")]
    [InlineData("\"proxyProtocol\": \"v2\"", "listeners[0].proxyProtocol", "PROXY header")]
    [InlineData("\"toaOnSyn\": true", "listeners[0].toaOnSyn", "never in the SYN")]
    [InlineData("\"firstByteTimeout\": \"5s\"", "listeners[0].firstByteTimeout", "holds no connection")]
    [InlineData("\"retries\": 2", "listeners[0].retries", "no connect to retry")]
    [InlineData("\"connectTimeout\": \"1s\"", "listeners[0].connectTimeout", "holds no connection")]
    [InlineData("\"log\": { \"to\": \"stdout\" }", "listeners[0].log", "no connection log")]
    [InlineData("\"engine\": \"xdp\"", "listeners[0].engine", "must be \"proxy\" or \"packet\"")]
    [InlineData("\"interfaces\": []", "listeners[0].interfaces", "at least one interface")]
    [InlineData("\"interfaces\": [ \"a/b\" ]", "listeners[0].interfaces[0]", "interface's name")]
    [InlineData("\"interfaces\": [ \"a-name-longer-than-15\" ]", "listeners[0].interfaces[0]", "interface's name")]
    public void Parse_PacketListenerAsksWhatTheEngineCannotDo_RefusedWithTheReason(string field, string path, string reason)
    {
        // The valid listener names "engine" already: an "engine" field replaces it rather than doubling it.
        var json = field.StartsWith("\"engine\"", StringComparison.Ordinal)
            ? Valid.Replace("\"engine\": \"packet\"", field)
            : WithListenerField(field);
        var problem = Assert.Single(Refused(json).Problems);
        Assert.Equal(path, problem.Path);
        Assert.Contains(reason, problem.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BackendMaxConnectionsOnAPacketListener_Refused()
    {
        var problem = Assert.Single(Refused(Valid.Replace("\"weight\": 2", "\"maxConnections\": 100")).Problems);
        Assert.Equal("listeners[0].backends[1].maxConnections", problem.Path);
        Assert.Contains("no per-backend limit", problem.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0:80", "10.0.0.1:8080", "listeners[0].address", "wildcard")]
    [InlineData("[::]:80", "10.0.0.1:8080", "listeners[0].address", "wildcard")]
    [InlineData("192.0.2.10:80", "[fd00::1]:8080", "listeners[0].backends", "IPv4 backends only")]
    [InlineData("[2001:db8::10]:80", "[fd00::1]:8080", "listeners[0].backends", "IPv4 backends only")]
    public void Parse_PacketListenerAddresses_Refused(string address, string backend, string path, string reason)
    {
        var problem = Assert.Single(Refused(Valid.Replace("192.0.2.10:80", address).Replace("10.0.0.1:8080", backend)
            .Replace("10.0.0.2:8080", backend.StartsWith('[') ? "[fd00::2]:8080" : "10.0.0.2:8080")).Problems);
        Assert.Equal(path, problem.Path);
        Assert.Contains(reason, problem.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PacketPoolMixingFamilies_Refused()
    {
        var problem = Assert.Single(Refused(Valid.Replace("10.0.0.2:8080", "[fd00::2]:8080")).Problems);
        Assert.Equal("listeners[0].backends", problem.Path);
        Assert.Contains("IPv4 backends only", problem.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ProxyListenerWithWhatPacketOnesCannot_StillAccepted()
    {
        // The same fields on a proxy listener are its own business.
        var config = BalancerConfigLoader.Parse(Valid.Replace("\"engine\": \"packet\",", "\"engine\": \"proxy\", \"retries\": 1, \"proxyProtocol\": \"v2\",")
            .Replace("192.0.2.10:80", "0.0.0.0:80"), "lb.json");
        Assert.False(ListenerSettings.From(config.Listeners![0]).Packet);
    }

    [Fact]
    public void Parse_InterfacesOnAProxyListener_Refused()
    {
        var problem = Assert.Single(Refused(Valid.Replace("\"engine\": \"packet\",", "\"interfaces\": [ \"eth0\" ],")).Problems);
        Assert.Equal("listeners[0].interfaces", problem.Path);
        Assert.Contains("packet listeners only", problem.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"localPorts\": \"80-90\"", "packet.localPorts")]
    [InlineData("\"localPorts\": \"65000-64000\"", "packet.localPorts")]
    [InlineData("\"localPorts\": \"61000-70000\"", "packet.localPorts")]
    [InlineData("\"localPorts\": \"61000\"", "packet.localPorts")]
    [InlineData("\"localPorts\": \" 61000-65535\"", "packet.localPorts")]
    [InlineData("\"maxConnections\": 0", "packet.maxConnections")]
    public void Parse_BadPacketSection_Refused(string field, string path)
    {
        var problem = Assert.Single(Refused(Valid.Replace("\"admin\": \"\",", $"\"admin\": \"\", \"packet\": {{ {field} }},")).Problems);
        Assert.Equal(path, problem.Path);
    }

    [Fact]
    public void Parse_MorePacketListenersOrBackendsThanTheMapsHold_Refused()
    {
        // As many as they hold are fine.
        BalancerConfigLoader.Parse($$"""{ "admin": "", "listeners": [ {{string.Join(", ", Enumerable.Range(0, 31).Select(i => Listener(i, 1)))}} ] }""", "lb.json");
        static string Listener(int i, int backends) =>
            $$"""{ "name": "l{{i}}", "address": "192.0.2.10:{{1000 + i}}", "engine": "packet", "backends": [ {{string.Join(", ",
                Enumerable.Range(0, backends).Select(b => $$"""{ "address": "10.{{i}}.{{b / 250}}.{{b % 250 + 1}}:80" }"""))}} ] }""";
        var tooManyListeners = $$"""{ "admin": "", "listeners": [ {{string.Join(", ", Enumerable.Range(0, 32).Select(i => Listener(i, 1)))}} ] }""";
        var problem = Assert.Single(Refused(tooManyListeners).Problems);
        Assert.Equal(("listeners", "32"), (problem.Path, problem.Value));
        Assert.Contains("at most 31 listeners", problem.Reason, StringComparison.Ordinal);

        var tooManyBackends = $$"""{ "admin": "", "listeners": [ {{string.Join(", ", Enumerable.Range(0, 2).Select(i => Listener(i, 2049)))}} ] }""";
        problem = Assert.Single(Refused(tooManyBackends).Problems);
        Assert.Equal(("listeners", "4098"), (problem.Path, problem.Value));
        Assert.Contains("at most 4096 backends", problem.Reason, StringComparison.Ordinal);
    }
}
