// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Text;

namespace Toa.Cli.Boot;

/// <summary>
/// Manual pages (man(7) macros) from the command tree's own help text, so that <c>man toa-load</c>
/// says what <c>toa load --help</c> says: one page per command that is not hidden, toa(1) for the
/// root. A description's paragraphs stay paragraphs; its indented lines (the examples) stay lines.
/// </summary>
internal static class ManPages
{
    /// <summary>Each page's file name (toa.1, toa-load.1, toa-lb-check.1) and text.</summary>
    public static IEnumerable<(string FileName, string Text)> Render(RootCommand root, string version)
    {
        foreach (var (path, command) in Walk(["toa"], root))
            yield return ($"{string.Join('-', path)}.1", Page(path, command, root, version));
    }

    private static IEnumerable<(IReadOnlyList<string> Path, Command Command)> Walk(IReadOnlyList<string> path, Command command)
    {
        yield return (path, command);
        foreach (var sub in command.Subcommands.Where(c => !c.Hidden))
            foreach (var page in Walk([.. path, sub.Name], sub))
                yield return page;
    }

    private static string Page(IReadOnlyList<string> path, Command command, RootCommand root, string version)
    {
        var name = string.Join('-', path);
        var text = new StringBuilder();
        text.AppendLine($".TH {Escape(name.ToUpperInvariant())} 1 \"\" \"toa {Escape(version)}\" \"toa manual\"");
        text.AppendLine(".SH NAME");
        text.AppendLine($"{Escape(name)} \\- {Escape(Summary(command.Description))}");

        text.AppendLine(".SH SYNOPSIS");
        var synopsis = new StringBuilder($".B {Escape(string.Join(' ', path))}");
        var subcommands = command.Subcommands.Where(c => !c.Hidden).ToList();
        if (subcommands.Count > 0)
            synopsis.Append(command.Action is null ? " \\fICOMMAND\\fR" : " [\\fICOMMAND\\fR]");
        foreach (var argument in command.Arguments.Where(a => !a.Hidden))
            synopsis.Append($" \\fI{Escape(ArgumentName(argument))}\\fR");
        synopsis.Append(" [\\fIOPTIONS\\fR]");
        text.AppendLine(synopsis.ToString());

        text.AppendLine(".SH DESCRIPTION");
        Paragraphs(text, command.Description ?? "");

        if (command.Arguments.Any(a => !a.Hidden))
        {
            text.AppendLine(".SH ARGUMENTS");
            foreach (var argument in command.Arguments.Where(a => !a.Hidden))
            {
                text.AppendLine(".TP");
                text.AppendLine($".I {Escape(ArgumentName(argument))}");
                text.AppendLine(Line(argument.Description ?? ""));
            }
        }

        if (subcommands.Count > 0)
        {
            text.AppendLine(".SH COMMANDS");
            foreach (var sub in subcommands)
            {
                text.AppendLine(".TP");
                text.AppendLine($".B {Escape(sub.Name)}");
                text.AppendLine($"{Line(Summary(sub.Description))}. See \\fB{Escape(name)}\\-{Escape(sub.Name)}\\fR(1).");
            }
        }

        text.AppendLine(".SH OPTIONS");
        foreach (var option in OptionsOf(path, command, root))
        {
            text.AppendLine(".TP");
            // The Unix spellings only (--help has /h and /? too).
            var names = string.Join(", ", option.Aliases.Prepend(option.Name).Where(n => n.StartsWith('-')).Distinct().OrderBy(n => n.Length)
                .Select(n => $"\\fB{Escape(n)}\\fR"));
            var value = option.Arity.MaximumNumberOfValues == 0 || option.ValueType == typeof(bool) ? "" : $" \\fI{Escape(option.HelpName ?? "VALUE")}\\fR";
            text.AppendLine(names + value);
            text.AppendLine(Line(option.Description ?? ""));
        }

        text.AppendLine(".SH SEE ALSO");
        var related = path.Count == 1
            ? subcommands.Select(s => $"{name}-{s.Name}")
            : [string.Join('-', path.Take(path.Count - 1)), .. subcommands.Select(s => $"{name}-{s.Name}")];
        text.AppendLine(string.Join(",\n", related.Select(r => $".BR {Escape(r)} (1)")));
        return text.ToString();
    }

    // The command's own options and those its ancestors pass down (--verbose, --help), as its --help lists them.
    private static IEnumerable<Option> OptionsOf(IReadOnlyList<string> path, Command command, RootCommand root)
    {
        var ancestors = new List<Command> { root };
        for (var i = 1; i < path.Count - 1; i++)
            ancestors.Add(ancestors[^1].Subcommands.Single(c => c.Name == path[i]));
        var inherited = command == root ? [] : ancestors.SelectMany(a => a.Options).Where(o => o.Recursive);
        return command.Options.Concat(inherited).Where(o => !o.Hidden).Distinct();
    }

    private static string ArgumentName(Argument argument) => (argument.HelpName ?? argument.Name).ToUpperInvariant();

    // What the command does, for NAME (whatis) and the list of commands: its description up to the
    // first ". " or ": " ("Load the receiver: eBPF programs ..."), a leading "toa: " left out.
    private static string Summary(string? description)
    {
        var text = (description ?? "").Split("\n", 2)[0];
        if (text.StartsWith("toa: ", StringComparison.Ordinal))
            text = text["toa: ".Length..];
        var ends = new[] { text.IndexOf(". ", StringComparison.Ordinal), text.IndexOf(": ", StringComparison.Ordinal) }.Where(i => i > 0);
        return (ends.Any() ? text[..ends.Min()] : text).TrimEnd('.');
    }

    private static void Paragraphs(StringBuilder text, string description)
    {
        foreach (var paragraph in description.Split("\n\n"))
        {
            text.AppendLine(".PP");
            var example = false;
            foreach (var line in paragraph.Split('\n'))
            {
                // Indented lines are examples: kept as written, each on a line of its own.
                var indented = line.StartsWith("  ", StringComparison.Ordinal);
                if (indented != example)
                    text.AppendLine(indented ? ".RS 4\n.nf" : ".fi\n.RE");
                example = indented;
                text.AppendLine(Line(indented ? line.Trim() : line));
            }
            if (example)
                text.AppendLine(".fi\n.RE");
        }
    }

    // A line of running text: a leading dot or quote would be read as a request.
    private static string Line(string text)
    {
        var escaped = Escape(text);
        return escaped.StartsWith('.') || escaped.StartsWith('\'') ? "\\&" + escaped : escaped;
    }

    // Backslashes print as themselves, hyphens as the minus signs options are spelled with.
    private static string Escape(string text) =>
        text.Replace("\\", "\\e", StringComparison.Ordinal).Replace("-", "\\-", StringComparison.Ordinal);
}
