// SPDX-License-Identifier: MIT
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Toa.Cli.Doctor;

/// <summary>Shows doctor's findings.</summary>
internal interface IFindingRenderer
{
    /// <summary>Writes every finding and the verdict.</summary>
    void Render(IReadOnlyList<Finding> findings);
}

/// <summary>For people: one block per check, a marked line per finding, the next step under a problem.</summary>
internal sealed class ConsoleFindingRenderer(TextWriter output) : IFindingRenderer
{
    // Redirected output is read by grep and tests: one line per finding, never wrapped.
    private const int UnwrappedWidth = 10_000;

    public void Render(IReadOnlyList<Finding> findings)
    {
        var target = new AnsiConsoleOutput(output);
        var terminal = target.IsTerminal;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = target,
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (!terminal)
            console.Profile.Width = UnwrappedWidth;
        foreach (var group in findings.GroupBy(f => f.Check))
        {
            console.MarkupLine($"[bold]{Markup.Escape(group.Key)}[/]");
            foreach (var f in group)
            {
                var mark = f.Severity switch
                {
                    Severity.Ok => "[green]ok     [/]",
                    Severity.Warning => "[yellow]warning[/]",
                    _ => "[red]problem[/]",
                };
                console.MarkupLine($"  {mark} {Markup.Escape(f.Message)}");
                if (f.NextStep is not null)
                    console.MarkupLine($"          [dim]next:[/] {Markup.Escape(f.NextStep)}");
            }
        }
        var problems = findings.Count(f => f.Severity == Severity.Problem);
        var warnings = findings.Count(f => f.Severity == Severity.Warning);
        console.WriteLine();
        console.MarkupLine(problems == 0
            ? $"[green]healthy[/]: no problem found{(warnings > 0 ? $", {warnings} warning(s)" : "")}"
            : $"[red]{problems} problem(s)[/], {warnings} warning(s)");
    }
}

/// <summary>For scripts: <c>{"healthy":…,"problems":…,"warnings":…,"findings":[{"check","severity","message","next"}]}</c>.</summary>
internal sealed class JsonFindingRenderer(TextWriter output) : IFindingRenderer
{
    public void Render(IReadOnlyList<Finding> findings)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteBoolean("healthy", DoctorRunner.ExitCode(findings) == 0);
            json.WriteNumber("problems", findings.Count(f => f.Severity == Severity.Problem));
            json.WriteNumber("warnings", findings.Count(f => f.Severity == Severity.Warning));
            json.WriteStartArray("findings");
            foreach (var f in findings)
            {
                json.WriteStartObject();
                json.WriteString("check", f.Check);
                json.WriteString("severity", f.Severity.ToString().ToLowerInvariant());
                json.WriteString("message", f.Message);
                if (f.NextStep is null)
                    json.WriteNull("next");
                else
                    json.WriteString("next", f.NextStep);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        output.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
