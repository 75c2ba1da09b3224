// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using Toa.Receiver;
using Toa.Wire;

namespace Toa.Cli.Receiver;

/// <summary>Options and text the receiver's commands (load, unload, status, stats, table) share.</summary>
internal static class ReceiverCommandOptions
{
    public static Option<string?> PinDir() => new("--pin-dir")
    {
        Description = $"Where the receiver's programs and maps are pinned (a directory on the bpf filesystem). "
            + $"Default: {ToaReceiver.DefaultPinDirectory}. Receivers in separate directories are independent, e.g. for tests.",
        HelpName = "DIR",
    };

    /// <summary>The pin directory a command line names, or the default.</summary>
    public static string PinDirOf(ParseResult parse, Option<string?> option) =>
        parse.GetValue(option) ?? ToaReceiver.DefaultPinDirectory;

    /// <summary>"200/8 253/20 254/8 254/20".</summary>
    public static string Describe(ToaLayouts layouts) => string.Join(' ', layouts.Members().Select(l => l.Describe()));

    /// <summary>
    /// Parses a comma-separated list of format names (tencent, dpvs, alibaba-cdn, ucloud),
    /// layouts as KIND/LENGTH (200/8), "default" or "all".
    /// </summary>
    public static ToaLayouts? ParseFormats(ArgumentResult result)
    {
        var layouts = ToaLayouts.None;
        foreach (var token in result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var one = token.ToLowerInvariant() switch
            {
                "default" => ToaLayouts.Default,
                "all" => ToaLayouts.All,
                _ when ToaLayoutInfo.TryParseFormat(token, out var format) => Enum.GetValues<ToaLayout>()
                    .Where(l => l.Format() == format).Aggregate(ToaLayouts.None, (set, l) => set | l.AsSet()),
                _ => Enum.GetValues<ToaLayout>().Where(l => l.Describe() == token).Aggregate(ToaLayouts.None, (set, l) => set | l.AsSet()),
            };
            if (one == ToaLayouts.None)
            {
                result.AddError($"unknown format '{token}' in --formats: use tencent, dpvs, alibaba-cdn, ucloud, "
                    + $"a layout such as 200/8 ({Describe(ToaLayouts.All)}), default or all");
                return ToaLayouts.None;
            }
            layouts |= one;
        }
        return layouts;
    }

    /// <summary>Parses CIDR networks (203.0.113.0/24, 2001:db8::/32); an address alone is a /32 or /128.</summary>
    public static IPNetwork[] ParseNetworks(ArgumentResult result)
    {
        var networks = new List<IPNetwork>();
        foreach (var token in result.Tokens)
        {
            var text = token.Value;
            if (!text.Contains('/') && IPAddress.TryParse(text, out var single))
                text = $"{single}/{(single.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)}";
            // A host address with a prefix (10.0.0.1/8) is most likely a typo: refuse rather than mask it.
            if (!IPNetwork.TryParse(text, out var network) || !network.BaseAddress.Equals(IPAddress.Parse(text[..text.IndexOf('/')])))
            {
                result.AddError($"--trust: '{token.Value}' is not a network such as 10.0.0.0/8 or 2001:db8::/32 (no bits set past the prefix)");
                return [];
            }
            networks.Add(network);
        }
        return [.. networks];
    }
}
