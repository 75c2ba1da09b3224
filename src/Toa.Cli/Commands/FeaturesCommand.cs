// SPDX-License-Identifier: MIT
using System.CommandLine;
using Toa.Bpf.Features;
using Toa.Cli.CommandLine;

namespace Toa.Cli.Commands;

/// <summary><c>toa features</c>: which kernel features toa uses and whether this kernel has them.</summary>
internal static class FeaturesCommand
{
    public static Command Create()
    {
        var command = new Command("features",
            "List the kernel features toa uses, the Linux release that introduced each, and whether this kernel has it, "
            + "found by asking the kernel (loading tiny programs and maps), not by reading its version. "
            + "Exits 1 if one toa cannot do without is missing. Needs root, like loading.\n\n"
            + "Output: one line per feature, tab-separated: yes|no, the feature's name, the release, what it is, and for a "
            + "missing one why, then what toa does instead (or 'required').");
        command.SetAction(parse =>
        {
            Privileges.RequireRoot("features");
            var output = parse.InvocationConfiguration.Output;
            var missing = 0;
            foreach (var feature in KernelFeatures.All)
            {
                var support = FeatureProbes.Current.Check(feature);
                if (support.Supported)
                {
                    output.WriteLine(string.Join('\t', "yes", feature.Id, feature.Since, feature.Description));
                    continue;
                }
                missing += feature.Fallback is null ? 1 : 0;
                output.WriteLine(string.Join('\t', "no", feature.Id, feature.Since, feature.Description, support.Reason,
                    feature.Fallback ?? "required"));
            }
            return (int)(missing == 0 ? ReturnCode.Ok : ReturnCode.Failure);
        });
        return command;
    }
}
