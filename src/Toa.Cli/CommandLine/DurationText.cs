// SPDX-License-Identifier: MIT
using System.Globalization;

namespace Toa.Cli.CommandLine;

/// <summary>Durations as users type them: 500ms, 10s, 2m, 1h, or plain seconds.</summary>
internal static class DurationText
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = default;
        var (number, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : text.EndsWith('h') ? (text[..^1], 3600.0)
            : (text, 1.0);
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value <= 0)
            return false;
        duration = TimeSpan.FromSeconds(value * unit);
        return true;
    }

    public static string Format(TimeSpan duration) =>
        duration.TotalSeconds >= 1 ? $"{duration.TotalSeconds:0.###}s" : $"{duration.TotalMilliseconds:0}ms";
}
