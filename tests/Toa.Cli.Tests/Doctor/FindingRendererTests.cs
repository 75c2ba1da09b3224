// SPDX-License-Identifier: MIT
using System.Text.Json;
using Toa.Cli.Doctor;

namespace Toa.Cli.Tests.Doctor;

public class FindingRendererTests
{
    private static readonly Finding[] Findings =
    [
        new("receiver", Severity.Ok, "loaded"),
        new("trust", Severity.Warning, "no trust list", "toa load --force --trust CIDR"),
        new("traffic", Severity.Problem, "packets arrive without TOA [sic]", "check the load balancer"),
    ];

    [Fact]
    public void Console_Redirected_OneBlockPerCheckAndTheVerdict()
    {
        var output = new StringWriter();

        new ConsoleFindingRenderer(output).Render(Findings);

        Assert.Equal(
        [
            "receiver",
            "  ok      loaded",
            "trust",
            "  warning no trust list",
            "          next: toa load --force --trust CIDR",
            "traffic",
            "  problem packets arrive without TOA [sic]",
            "          next: check the load balancer",
            "",
            "1 problem(s), 1 warning(s)",
        ], output.ToString().TrimEnd('\n').Split('\n').Select(l => l.TrimEnd()));
    }

    [Fact]
    public void Console_OnlyWarnings_Healthy()
    {
        var output = new StringWriter();

        new ConsoleFindingRenderer(output).Render(Findings[..2]);

        Assert.EndsWith("healthy: no problem found, 1 warning(s)", output.ToString().TrimEnd());
    }

    [Fact]
    public void Json_Findings_ParseBackWithTheirFields()
    {
        var output = new StringWriter();

        new JsonFindingRenderer(output).Render(Findings);

        using var json = JsonDocument.Parse(output.ToString());
        var root = json.RootElement;
        Assert.False(root.GetProperty("healthy").GetBoolean());
        Assert.Equal(1, root.GetProperty("problems").GetInt32());
        Assert.Equal(1, root.GetProperty("warnings").GetInt32());
        var findings = root.GetProperty("findings").EnumerateArray().ToArray();
        Assert.Equal(["ok", "warning", "problem"], findings.Select(f => f.GetProperty("severity").GetString()));
        Assert.Equal(JsonValueKind.Null, findings[0].GetProperty("next").ValueKind);
        Assert.Equal("check the load balancer", findings[2].GetProperty("next").GetString());
    }
}
