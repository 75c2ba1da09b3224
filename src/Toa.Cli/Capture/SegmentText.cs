// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Text;
using System.Text.Json;
using Toa.Cli.CommandLine;
using Toa.Cli.Stats;
using Toa.Diagnostics.Capture;
using Toa.Wire;

namespace Toa.Cli.Capture;

/// <summary>How <c>toa capture</c> prints a segment that carries a TOA: one line of text, or one JSON object.</summary>
internal static class SegmentText
{
    /// <summary>The options of <paramref name="segment"/> that are TOAs or claim to be (a TOA kind at a length no layout has).</summary>
    public static IEnumerable<TcpOption> ToaOptions(TcpSegment segment) =>
        segment.Options.Options.Where(o => o.Layout is not null || (ToaLayoutInfo.IsToaKind(o.Kind) && o.Type == TcpOptionType.Malformed));

    /// <summary>
    /// "2026-01-02T03:04:05.000006Z 10.0.0.1:40000 &gt; 10.0.0.2:8000 [.] 200/8 tencent 203.0.113.7:4321";
    /// several TOAs in one segment are separated by ", ".
    /// </summary>
    public static string Line(TcpSegment segment) =>
        $"{Time(segment.Time)} {EndPointText.Format(segment.Source)} > {EndPointText.Format(segment.Destination)} [{segment.Flags}] "
        + string.Join(", ", ToaOptions(segment).Select(Describe));

    /// <summary>The same as <see cref="Line"/>, as one JSON object.</summary>
    public static string Json(TcpSegment segment) => StatsJson.Write(json =>
    {
        json.WriteString("time", Time(segment.Time));
        json.WriteString("source", EndPointText.Format(segment.Source));
        json.WriteString("destination", EndPointText.Format(segment.Destination));
        json.WriteString("flags", segment.Flags);
        json.WriteNumber("payload", segment.PayloadLength);
        json.WriteStartArray("toa");
        foreach (var option in ToaOptions(segment))
            WriteOption(json, option);
        json.WriteEndArray();
    });

    private static void WriteOption(Utf8JsonWriter json, TcpOption option)
    {
        json.WriteStartObject();
        json.WriteNumber("kind", option.Kind);
        json.WriteNumber("length", option.Length);
        if (option.Layout is { } layout)
            json.WriteString("format", layout.Format().Name());
        if (option.Address is { } address)
            json.WriteString("client", Client(address));
        else
            json.WriteString("problem", Words(option.Problem));
        json.WriteEndObject();
    }

    private static string Describe(TcpOption option)
    {
        var kindLength = $"{option.Kind}/{option.Length}";
        var format = option.Layout is { } layout ? $" {layout.Format().Name()}" : "";
        return option.Address is { } address
            ? $"{kindLength}{format} {Client(address)}"
            : $"{kindLength}{format} malformed ({Words(option.Problem)})";
    }

    /// <summary>The client as the TOA carries it: the layouts without a port (Alibaba CDN) give the address alone.</summary>
    private static string Client(ToaAddress address) =>
        address.Layout.HasPort() ? EndPointText.Format(address.Client) : address.Client.Address.ToString();

    private static string Time(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>NoLayoutForLength as "no-layout-for-length".</summary>
    private static string Words(TcpOptionProblem problem)
    {
        var words = new StringBuilder();
        foreach (var c in problem.ToString())
        {
            if (char.IsUpper(c) && words.Length > 0)
                words.Append('-');
            words.Append(char.ToLowerInvariant(c));
        }
        return words.ToString();
    }
}
