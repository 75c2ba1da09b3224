// SPDX-License-Identifier: MIT
using Toa.Balancer.Configuration;
using Toa.Wire;

namespace Toa.Balancer.Tests.Configuration;

public class ConfigLoaderTests
{
    private const string Valid = """
        {
          "admin": "",
          "listeners": [
            {
              "name": "web",
              "address": "127.0.0.1:0",
              "backends": [ { "address": "127.0.0.1:9001" }, { "address": "127.0.0.1:9002", "weight": 2 } ]
            }
          ]
        }
        """;

    private static BalancerConfigException Refused(string json) =>
        Assert.Throws<BalancerConfigException>(() => BalancerConfigLoader.Parse(json, "lb.json"));

    /// <summary>The valid config with one more listener field (a JSON "name": value).</summary>
    private static string WithListenerField(string field) => Valid.Replace("\"name\": \"web\",", $"\"name\": \"web\", {field},");

    [Fact]
    public void Load_SampleFile_IsValid()
    {
        var config = BalancerConfigLoader.Load(RepoFiles.Path("samples/lb.json"));
        Assert.Equal(3, config.Listeners!.Count);
        Assert.Equal(TimeSpan.FromSeconds(30), config.ShutdownTimeout);
        Assert.Equal(3, config.Listeners[0].Backends![0].Weight);
    }

    [Fact]
    public void Load_MissingFile_NamesTheFile()
    {
        var e = Assert.Throws<BalancerConfigException>(() => BalancerConfigLoader.Load("/nonexistent/lb.json"));
        Assert.Equal("/nonexistent/lb.json", Assert.Single(e.Problems).File);
    }

    [Fact]
    public void ListenerSettingsFrom_FieldsLeftOut_AreTheDocumentedDefaults()
    {
        var listener = ListenerSettings.From(BalancerConfigLoader.Parse(Valid, "lb.json").Listeners![0]);
        Assert.Equal(new ToaSettings(null, OnSyn: false), listener.Toa);
        Assert.False(listener.ProxyProtocol);
        Assert.Equal("weighted-round-robin", listener.Scheduler);
        Assert.Equal(TimeSpan.FromSeconds(5), listener.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMinutes(10), listener.IdleTimeout);
        Assert.Equal(3, listener.Retries);
        Assert.Null(listener.FirstByteTimeout);
        Assert.Equal(new HealthSettings(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), Rise: 2, Fall: 3, EjectAfter: 3), listener.Health);
        Assert.Equal([1, 2], listener.Backends.Select(b => b.Weight));
        Assert.Null(listener.Snat4);
    }

    [Fact]
    public void ListenerSettingsFrom_SampleListener_ParsesSnatAndToa()
    {
        var listener = ListenerSettings.From(BalancerConfigLoader.Load(RepoFiles.Path("samples/lb.json")).Listeners![2]);
        Assert.Equal(new ToaSettings(ToaFormat.Dpvs, OnSyn: true), listener.Toa);
        Assert.Equal(System.Net.IPAddress.Parse("fd00::21"), listener.Backends[0].EndPoint.Address);
    }

    [Theory]
    [InlineData("TENCENT", ToaFormat.Tencent)]
    [InlineData("dpvs", ToaFormat.Dpvs)]
    [InlineData("Off", null)]
    public void ListenerSettingsFrom_ToaNamedAsCoresFormats_ThatFormat(string name, ToaFormat? format)
    {
        var listener = ListenerSettings.From(BalancerConfigLoader.Parse(WithListenerField($"\"toa\": \"{name}\""), "lb.json").Listeners![0]);

        Assert.Equal(format, listener.Toa.Format);
    }

    [Fact]
    public void ListenerSettingsFrom_ProxyProtocolV2WithToa_BothOn()
    {
        var listener = ListenerSettings.From(BalancerConfigLoader.Parse(WithListenerField("\"proxyProtocol\": \"v2\", \"toa\": \"tencent\""), "lb.json").Listeners![0]);

        Assert.True(listener.ProxyProtocol);
        Assert.Equal(ToaFormat.Tencent, listener.Toa.Format);
    }

    [Fact]
    public void Parse_CommentsAndTrailingCommas_Accepted()
    {
        var json = """
            // a comment
            { "admin": "", /* another */ "listeners": [ { "name": "a", "address": "127.0.0.1:1",
              "backends": [ { "address": "127.0.0.1:2", }, ], }, ], }
            """;
        Assert.Single(BalancerConfigLoader.Parse(json, "lb.json").Listeners!);
    }

    [Fact]
    public void Parse_SyntaxError_ReportsFileAndLine()
    {
        var json = "{\n  \"admin\": \"\",\n  \"listeners\": [ { \"name\" \"a\" } ]\n}";
        var problem = Assert.Single(Refused(json).Problems);
        Assert.Equal(3, problem.Line);
        Assert.StartsWith("lb.json:3: ", problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownField_NamesIt()
    {
        var problem = Assert.Single(Refused(Valid.Replace("\"weight\"", "\"wieght\"")).Problems);
        Assert.Contains("unknown field 'wieght'", problem.Reason, StringComparison.Ordinal);
        Assert.Equal("listeners[0].backends[1].wieght", problem.Path);
    }

    [Fact]
    public void Parse_WrongType_SaysWhatWasExpected()
    {
        var problem = Assert.Single(Refused(Valid.Replace("\"weight\": 2", "\"weight\": \"heavy\"")).Problems);
        Assert.Equal("listeners[0].backends[1].weight", problem.Path);
        Assert.Equal("expected a number, not string", problem.Reason);
    }

    [Fact]
    public void Parse_ObjectWhereListBelongs_Refused()
    {
        var problem = Assert.Single(Refused(Valid.Replace("\"backends\": [", "\"backends\": { \"a\": [").Replace("]\n    }", "] }\n    }")).Problems);
        Assert.StartsWith("listeners[0].backends", problem.Path, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadDuration_SaysHowToWriteOne()
    {
        var problem = Assert.Single(Refused(WithListenerField("\"idleTimeout\": \"5 minutes\"")).Problems);
        Assert.Equal("listeners[0].idleTimeout", problem.Path);
        Assert.Contains("a number and a unit", problem.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"toa\": \"alibaba\"", "listeners[0].toa", "\"alibaba\"")]
    [InlineData("\"toa\": \"ucloud\"", "listeners[0].toa", "\"ucloud\"")] // a receiver's format the balancer does not write: no IPv6 layout
    [InlineData("\"scheduler\": \"fastest\"", "listeners[0].scheduler", "\"fastest\"")]
    [InlineData("\"snat\": { \"ipv4\": \"::1\" }", "listeners[0].snat.ipv4", "\"::1\"")]
    [InlineData("\"snat\": { \"ipv6\": \"10.0.0.1\" }", "listeners[0].snat.ipv6", "\"10.0.0.1\"")]
    [InlineData("\"connectTimeout\": \"0s\"", "listeners[0].connectTimeout", "\"0s\"")]
    [InlineData("\"health\": { \"rise\": 0 }", "listeners[0].health.rise", "0")]
    [InlineData("\"health\": { \"fall\": -1 }", "listeners[0].health.fall", "-1")]
    [InlineData("\"health\": { \"interval\": \"1s\", \"timeout\": \"2s\" }", "listeners[0].health.timeout", "\"2s\"")]
    [InlineData("\"health\": { \"timeout\": \"3s\" }", "listeners[0].health.timeout", "\"3s\"")]
    [InlineData("\"health\": { \"ejectAfter\": -2 }", "listeners[0].health.ejectAfter", "-2")]
    [InlineData("\"toaOnSyn\": true", "listeners[0].toaOnSyn", "true")]
    [InlineData("\"proxyProtocol\": \"v1\"", "listeners[0].proxyProtocol", "\"v1\"")]
    [InlineData("\"retries\": -1", "listeners[0].retries", "-1")]
    [InlineData("\"retries\": 101", "listeners[0].retries", "101")]
    [InlineData("\"firstByteTimeout\": \"0s\"", "listeners[0].firstByteTimeout", "\"0s\"")]
    public void Parse_BadListenerField_ReportsPathAndValue(string field, string path, string value)
    {
        var problem = Assert.Single(Refused(WithListenerField(field)).Problems);
        Assert.Equal(path, problem.Path);
        Assert.Equal(value, problem.Value);
    }

    [Theory]
    [InlineData(null, ConfigDefaults.ToaConnections)]
    [InlineData("100000", 100000)]
    public void Parse_ToaConnections_GivenOrTheDefault(string? value, int expected)
    {
        var json = value is null ? Valid : Valid.Replace("\"admin\": \"\",", $"\"admin\": \"\", \"toaConnections\": {value},");

        var config = BalancerConfigLoader.Parse(json, "lb.json");

        Assert.Equal(expected, config.ToaConnections ?? ConfigDefaults.ToaConnections);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    public void Parse_ToaConnectionsBelowOne_Refused(string value)
    {
        var problem = Assert.Single(Refused(Valid.Replace("\"admin\": \"\",", $"\"admin\": \"\", \"toaConnections\": {value},")).Problems);
        Assert.Equal("toaConnections", problem.Path);
        Assert.Equal(value, problem.Value);
    }

    [Fact]
    public void Parse_ListenerAddressWithoutPort_Refused()
    {
        var problem = Assert.Single(Refused(Valid.Replace("\"address\": \"127.0.0.1:0\"", "\"address\": \"127.0.0.1\"")).Problems);
        Assert.Equal("listeners[0].address", problem.Path);
        Assert.Equal("\"127.0.0.1\"", problem.Value);
    }

    [Theory]
    [InlineData("\"weight\": 0", "weight", "0")]
    [InlineData("\"weight\": 70000", "weight", "70000")]
    [InlineData("\"maxConnections\": -1", "maxConnections", "-1")]
    public void Parse_BadBackendField_ReportsPathAndValue(string field, string name, string value)
    {
        var problem = Assert.Single(Refused(Valid.Replace("\"weight\": 2", field)).Problems);
        Assert.Equal($"listeners[0].backends[1].{name}", problem.Path);
        Assert.Equal(value, problem.Value);
        Assert.StartsWith($"lb.json: listeners[0].backends[1].{name} = {value}: ", problem.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.1")]
    [InlineData("10.1:80")]
    [InlineData("127.0.0.1:0")]
    [InlineData("::1:80")]
    [InlineData("example.com:80")]
    public void Parse_BadBackendAddress_Refused(string address)
    {
        var problem = Assert.Single(Refused(Valid.Replace("127.0.0.1:9001", address)).Problems);
        Assert.Equal("listeners[0].backends[0].address", problem.Path);
    }

    [Fact]
    public void Parse_DuplicatesAndSeveralProblems_AllReportedTogether()
    {
        var json = """
            {
              "admin": "nowhere",
              "maxConnections": -5,
              "listeners": [
                { "name": "a", "address": "127.0.0.1:1000", "backends": [ { "address": "127.0.0.1:1" }, { "address": "127.0.0.1:1" } ] },
                { "name": "a", "address": "127.0.0.1:1000", "backends": [] }
              ]
            }
            """;
        var e = Refused(json);
        Assert.Equal(
            ["admin", "maxConnections", "listeners[1].name", "listeners[1].address", "listeners[0].backends[1].address", "listeners[1].backends"],
            e.Problems.Select(p => p.Path));
        Assert.Contains("6 problems", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NullEntry_ReportedNotThrown()
    {
        var e = Refused(Valid.Replace("{ \"address\": \"127.0.0.1:9001\" }", "null"));
        Assert.Equal("listeners[0].backends[0]", Assert.Single(e.Problems).Path);
    }

    [Fact]
    public void Parse_NullList_Refused()
    {
        var problem = Assert.Single(Refused("{ \"listeners\": null }").Problems);
        Assert.Equal("listeners", problem.Path);
    }

    [Fact]
    public void Equals_SameText_EqualAndDifferentWeight_NotEqual()
    {
        var a = BalancerConfigLoader.Parse(Valid, "a");
        var b = BalancerConfigLoader.Parse(Valid, "b");
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, BalancerConfigLoader.Parse(Valid.Replace("\"weight\": 2", "\"weight\": 3"), "c"));
    }

    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("5s", 5000)]
    [InlineData("1.5m", 90000)]
    [InlineData("2h", 7200000)]
    public void DurationTryParse_NumberAndUnit_Parsed(string text, int ms)
    {
        Assert.True(Duration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(ms), value);
    }

    [Theory]
    [InlineData("5")]
    [InlineData("-1s")]
    [InlineData("s")]
    [InlineData("5d")]
    [InlineData("")]
    public void DurationTryParse_Malformed_False(string text) => Assert.False(Duration.TryParse(text, out _));

    [Theory]
    [InlineData(250, "250ms")]
    [InlineData(90000, "90s")]
    [InlineData(120000, "2m")]
    [InlineData(3600000, "1h")]
    public void DurationFormat_ShortestExactForm(int ms, string text) =>
        Assert.Equal(text, Duration.Format(TimeSpan.FromMilliseconds(ms)));
}
