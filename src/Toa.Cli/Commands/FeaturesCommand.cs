// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Text.Json;
using Toa.Bpf.Features;
using Toa.Cli.CommandLine;
using Toa.Cli.Stats;

namespace Toa.Cli.Commands;

/// <summary><c>toa features</c>: which kernel features toa uses and whether this kernel has them.</summary>
internal static class FeaturesCommand
{
    private static readonly Option<bool> Json = CommonOptions.Json(
        "{\"features\": [{\"id\", \"since\", \"description\", \"supported\", and when missing \"reason\" and "
        + "\"fallback\" (null when required)}], \"missing_required\"}");

    public static Command Create()
    {
        var command = new Command("features",
            "List the kernel features toa uses, the Linux release that introduced each, and whether this kernel has it, "
            + "found by asking the kernel (loading tiny programs and maps), not by reading its version. "
            + "Exits 1 if one toa cannot do without is missing. Needs root, like loading.\n\n"
            + "Output: one line per feature, tab-separated: yes|no, the feature's name, the release, what it is, and for a "
            + "missing one why, then what toa does instead (or 'required').")
        {
            Json,
        };
        command.SetAction(parse =>
        {
            Privileges.RequireRoot("features");
            var output = parse.InvocationConfiguration.Output;
            var supports = KernelFeatures.All.Select(FeatureProbes.Current.Check).ToList();
            var missing = supports.Count(s => !s.Supported && s.Feature.Fallback is null);
            if (parse.GetValue(Json))
            {
                output.WriteLine(StatsJson.Write(json => WriteJson(json, supports, missing)));
                return (int)(missing == 0 ? ReturnCode.Ok : ReturnCode.Failure);
            }
            foreach (var support in supports)
            {
                var feature = support.Feature;
                if (support.Supported)
                {
                    output.WriteLine(string.Join('\t', "yes", feature.Id, feature.Since, feature.Description));
                    continue;
                }
                output.WriteLine(string.Join('\t', "no", feature.Id, feature.Since, feature.Description, support.Reason,
                    feature.Fallback ?? "required"));
            }
            return (int)(missing == 0 ? ReturnCode.Ok : ReturnCode.Failure);
        });
        return command;
    }

    private static void WriteJson(Utf8JsonWriter json, IReadOnlyList<FeatureSupport> supports, int missing)
    {
        json.WriteStartArray("features");
        foreach (var support in supports)
        {
            var feature = support.Feature;
            json.WriteStartObject();
            json.WriteString("id", feature.Id);
            json.WriteString("since", feature.Since.ToString());
            json.WriteString("description", feature.Description);
            json.WriteBoolean("supported", support.Supported);
            if (!support.Supported)
            {
                json.WriteString("reason", support.Reason);
                json.WriteString("fallback", feature.Fallback);
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteNumber("missing_required", missing);
    }
}
