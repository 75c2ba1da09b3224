// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Toa.Balancer.Configuration;

/// <summary>
/// Durations as operators write them: a number and a unit, "250ms", "5s", "1.5m", "1h".
/// </summary>
public static class Duration
{
    /// <summary>Parses "number unit"; false for anything else, negative numbers included.</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        var s = text.Trim();
        var split = s.Length;
        while (split > 0 && char.IsAsciiLetter(s[split - 1]))
            split--;
        var unit = s[split..];
        double scale = unit switch { "ms" => 1, "s" => 1e3, "m" => 60e3, "h" => 3600e3, _ => 0 };
        if (scale == 0 || split == 0)
            return false;
        if (!double.TryParse(s.AsSpan(0, split), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            return false;
        var ms = number * scale;
        if (ms > TimeSpan.MaxValue.TotalMilliseconds)
            return false;
        value = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    /// <summary>The shortest exact form: "90s", "250ms", "2m".</summary>
    public static string Format(TimeSpan value)
    {
        var ms = value.TotalMilliseconds;
        if (ms != 0 && ms % 3_600_000 == 0)
            return string.Create(CultureInfo.InvariantCulture, $"{ms / 3_600_000}h");
        if (ms != 0 && ms % 60_000 == 0)
            return string.Create(CultureInfo.InvariantCulture, $"{ms / 60_000}m");
        if (ms % 1000 == 0)
            return string.Create(CultureInfo.InvariantCulture, $"{ms / 1000}s");
        return string.Create(CultureInfo.InvariantCulture, $"{ms}ms");
    }
}

/// <summary>Reads and writes <see cref="TimeSpan"/> in <see cref="Duration"/>'s form.</summary>
internal sealed class DurationJsonConverter : JsonConverter<TimeSpan>
{
    public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        if (!Duration.TryParse(text, out var value))
            throw new JsonException("expected a duration: a number and a unit (ms, s, m, h), e.g. \"250ms\", \"5s\", \"2m\"");
        return value;
    }

    public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options) =>
        writer.WriteStringValue(Duration.Format(value));
}
