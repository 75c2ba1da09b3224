// SPDX-License-Identifier: MIT
using System.Text;

namespace Toa.Balancer.Configuration;

/// <summary>One thing wrong with a configuration: where, what value, and why.</summary>
/// <param name="File">The file (or other source) the configuration came from.</param>
/// <param name="Path">The field, as written in the file: <c>listeners[0].backends[2].weight</c>; empty for the whole document.</param>
/// <param name="Value">The offending value as text, or null when the field is missing or the file does not parse.</param>
/// <param name="Reason">What is wrong, in words.</param>
/// <param name="Line">The 1-based line, known for syntax errors.</param>
public sealed record ConfigProblem(string File, string Path, string? Value, string Reason, int? Line = null)
{
    /// <summary>"lb.json:3: listeners[0].backends[2].weight = 0: must be 1 to 65535".</summary>
    public override string ToString()
    {
        var text = new StringBuilder(File);
        if (Line is { } line)
            text.Append(':').Append(line);
        if (Path.Length > 0)
            text.Append(": ").Append(Path);
        if (Value is not null)
            text.Append(" = ").Append(Value);
        return text.Append(": ").Append(Reason).ToString();
    }
}

/// <summary>A configuration that cannot be used, with every problem found in it.</summary>
public sealed class BalancerConfigException : Exception
{
    /// <summary>Creates the exception for a non-empty list of problems.</summary>
    public BalancerConfigException(IReadOnlyList<ConfigProblem> problems)
        : base(Describe(problems))
    {
        Problems = problems;
    }

    /// <summary>Every problem, in the order found.</summary>
    public IReadOnlyList<ConfigProblem> Problems { get; }

    private static string Describe(IReadOnlyList<ConfigProblem> problems) => problems.Count == 1
        ? problems[0].ToString()
        : $"{problems.Count} problems in the configuration:{Environment.NewLine}  "
          + string.Join(Environment.NewLine + "  ", problems);
}
