// SPDX-License-Identifier: MIT
using System.Text.RegularExpressions;
using Toa.Cli.Boot;

namespace Toa.Cli.Tests.Boot;

/// <summary>The package's receiver unit and the settings file it reads (/etc/toa/receiver.conf) name the same variables.</summary>
public sealed class PackagedReceiverUnitTests
{
    private static readonly string s_unit = ReceiverUnit.RenderPackaged("/usr/bin/toa");

    private static string Line(string key) => s_unit.Split('\n').Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];

    [Fact]
    public void RenderPackaged_EveryVariableTheExecLinesUse_IsInTheSettingsFile()
    {
        var defined = Regex.Matches(ReceiverUnit.RenderPackagedSettings(), "^([A-Z_]+)=\"[^\"]*\"$", RegexOptions.Multiline).Select(m => m.Groups[1].Value);
        var used = new[] { "ExecStart", "ExecReload", "ExecStop" }.SelectMany(k => Regex.Matches(Line(k), @"\$([A-Z_]+)").Select(m => m.Groups[1].Value));

        Assert.Equal(used.Distinct().Order(), defined.Order());
        Assert.Equal($"EnvironmentFile={ReceiverUnit.PackagedSettingsFile}", s_unit.Split('\n').Single(l => l.StartsWith("EnvironmentFile=", StringComparison.Ordinal)));
    }

    [Fact]
    public void RenderPackaged_StartAndReloadLoadWithForce_StopUnloadsTheSamePins()
    {
        Assert.StartsWith("/usr/bin/toa load --force ", Line("ExecStart"));
        Assert.Equal(Line("ExecStart"), Line("ExecReload"));
        Assert.Equal("/usr/bin/toa unload $TOA_PIN_DIR", Line("ExecStop"));
        Assert.Contains("$TOA_PIN_DIR", Line("ExecStart"));
        Assert.Equal(["Type=oneshot", "RemainAfterExit=yes"], s_unit.Split('\n').Where(l => l.StartsWith("Type=") || l.StartsWith("RemainAfterExit=")));
    }

    [Fact]
    public void RenderPackagedSettings_CommentsStayWithinAHundredColumns()
    {
        Assert.All(ReceiverUnit.RenderPackagedSettings().Split('\n'), l => Assert.True(l.Length <= 100, l));
    }
}
