// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Toa.Receiver;

namespace Toa.Cli.Stats;

/// <summary>Shows live frames of counters: a table redrawn in place, plain text, or JSON lines.</summary>
internal interface IStatsView
{
    /// <summary>Shows every frame until the sequence ends.</summary>
    Task ShowAsync(IAsyncEnumerable<StatsFrame> frames);
}

/// <summary>
/// A terminal's view, as dotnet-counters monitor draws it: the rows laid out once, their values
/// rewritten in place each interval; Spectre.Console redraws it when the terminal is resized.
/// </summary>
internal sealed class LiveTableView(IAnsiConsole console, string title) : IStatsView
{
    private const int TotalColumn = 1;
    private const int RateColumn = 2;

    public async Task ShowAsync(IAsyncEnumerable<StatsFrame> frames)
    {
        var table = new Table().Title(Markup.Escape(title)).Caption("Press Ctrl+C to quit")
            .AddColumn("Counter").AddColumn(new TableColumn("Total").RightAligned())
            .AddColumn(new TableColumn("Per second").RightAligned()).AddColumn("Meaning");
        string[] rows = [];
        await console.Live(table).AutoClear(false).StartAsync(async live =>
        {
            live.Refresh();
            await foreach (var frame in frames)
            {
                var names = frame.Counters.Select(c => c.Name).ToArray();
                if (!names.SequenceEqual(rows))
                {
                    table.Rows.Clear();
                    foreach (var name in names)
                        table.AddRow(Markup.Escape(name), "", "", Markup.Escape(CounterDescriptions.Of(name)));
                    rows = names;
                }
                for (var i = 0; i < frame.Counters.Count; i++)
                {
                    table.UpdateCell(i, TotalColumn, Number.Total(frame.Counters[i].Total));
                    table.UpdateCell(i, RateColumn, Number.Rate(frame.Counters[i].PerSecond));
                }
                live.Refresh();
            }
        });
    }
}

/// <summary>When output goes to a file or a pipe: a block of aligned rows per interval, nothing rewritten.</summary>
internal sealed class TextView(TextWriter output) : IStatsView
{
    public async Task ShowAsync(IAsyncEnumerable<StatsFrame> frames)
    {
        await foreach (var frame in frames)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{frame.Time:yyyy-MM-dd HH:mm:ss}Z {"total",15} {"per second",12}"));
            foreach (var c in frame.Counters)
                await output.WriteLineAsync($"{c.Name,-25} {Number.Total(c.Total),15} {Number.Rate(c.PerSecond),12}");
            await output.FlushAsync();
        }
    }
}

/// <summary>One JSON object per interval and line, for jq and log shippers.</summary>
internal sealed class JsonLinesView(TextWriter output) : IStatsView
{
    public async Task ShowAsync(IAsyncEnumerable<StatsFrame> frames)
    {
        await foreach (var frame in frames)
        {
            await output.WriteLineAsync(StatsJson.Write(json =>
            {
                json.WriteString("time", frame.Time);
                json.WriteNumber("interval_seconds", Math.Round(frame.Elapsed.TotalSeconds, 3));
                json.WriteStartObject("counters");
                foreach (var c in frame.Counters)
                {
                    json.WriteStartObject(c.Name);
                    json.WriteNumber("total", c.Total);
                    json.WriteNumber("per_second", Math.Round(c.PerSecond, 3));
                    json.WriteEndObject();
                }
                json.WriteEndObject();
            }));
            await output.FlushAsync();
        }
    }
}

/// <summary>The counters as JSON: one object, written without reflection (the CLI is trimmed and AOT-checked).</summary>
internal static class StatsJson
{
    /// <summary>A snapshot: every counter's total and its value on each online CPU, in the order of <c>cpus</c>.</summary>
    public static string Snapshot(ReceiverCounters counters, IReadOnlyList<int> onlineCpus, DateTimeOffset time) => Write(json =>
    {
        json.WriteString("time", time);
        json.WriteStartArray("cpus");
        foreach (var cpu in onlineCpus)
            json.WriteNumberValue(cpu);
        json.WriteEndArray();
        json.WriteStartObject("counters");
        foreach (var c in counters.Counters)
        {
            json.WriteStartObject(c.Name);
            json.WriteNumber("total", c.Total);
            json.WriteStartArray("per_cpu");
            foreach (var cpu in onlineCpus)
                json.WriteNumberValue(cpu < c.PerCpu.Count ? c.PerCpu[cpu] : 0);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        json.WriteEndObject();
    });

    /// <summary>One object on one line, its members written by <paramref name="members"/>.</summary>
    public static string Write(Action<Utf8JsonWriter> members)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            members(json);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}

/// <summary>Numbers as the views print them.</summary>
internal static class Number
{
    public static string Total(ulong value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Rate(double perSecond) => perSecond.ToString("0.#", CultureInfo.InvariantCulture);
}
