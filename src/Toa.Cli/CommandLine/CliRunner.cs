// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Toa.Bpf;

namespace Toa.Cli.CommandLine;

/// <summary>
/// Parses and runs a command line: parse errors become one logged error and exit code 2;
/// anticipated failures one logged error and their code; a verifier rejection its message
/// (and the whole log with --verbose). Command output stays on the output stream.
/// </summary>
public static class CliRunner
{
    /// <summary>Runs <paramref name="args"/> against <paramref name="root"/>, writing to the given streams.</summary>
    public static async Task<int> RunAsync(RootCommand root, string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        var parse = root.Parse(args);
        var verbose = parse.Errors.Count == 0 && parse.GetValue(CommonOptions.Verbose);
        using var logging = Logging.Create(error, verbose);
        var log = logging.CreateLogger(Logging.Category);
        if (parse.Errors.Count > 0)
        {
            CliLog.UsageError(log, parse.Errors[0].Message, CommandPath(parse));
            return (int)ReturnCode.UsageError;
        }
        LibBpfLog.Logger = logging.CreateLogger("libbpf");
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (CliException e)
        {
            if (e.Code == ReturnCode.UsageError)
                CliLog.UsageError(log, e.Message, CommandPath(parse));
            else
                CliLog.Failed(log, e.Message);
            return (int)e.Code;
        }
        catch (VerifierException e)
        {
            if (verbose)
            {
                // The whole log a line per entry: one entry would be folded onto one line.
                CliLog.Failed(log, e.Message);
                foreach (var line in e.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Concat(e.LibBpfMessages))
                    CliLog.VerifierLogLine(log, line.TrimEnd());
            }
            else
                CliLog.VerifierRejected(log, e.Message);
            return (int)ReturnCode.Failure;
        }
        catch (Exception e) when (e is BpfException or SocketException or IOException or UnauthorizedAccessException)
        {
            CliLog.SystemError(log, e.Message);
            return (int)ReturnCode.Failure;
        }
        catch (OperationCanceledException)
        {
            return (int)ReturnCode.Failure;
        }
    }

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command.Name);
        names[0] = "toa";
        return string.Join(' ', names);
    }
}

/// <summary>
/// The loggers commands share, on stderr: Microsoft.Extensions.Logging's systemd format (<c>&lt;3&gt;toa[2] …</c>,
/// so journald files each line at its priority) when stderr is a journal stream, else its simple format on one line
/// with the level and event id (<c>fail: toa[2] …</c>). Warnings and up by default (or <c>normal</c>), everything
/// with --verbose.
/// </summary>
internal static class Logging
{
    /// <summary>The category of the CLI's own messages, and so the name every line starts with.</summary>
    public const string Category = "toa";

    public static ILoggerFactory Create(TextWriter error, bool verbose, LogLevel normal = LogLevel.Warning) =>
        Create(error, verbose, normal, UnderJournal(Environment.GetEnvironmentVariable("JOURNAL_STREAM")));

    /// <summary>The loggers for a command's invocation: its error stream and its --verbose.</summary>
    public static ILoggerFactory For(ParseResult parse, LogLevel normal = LogLevel.Warning) =>
        Create(parse.InvocationConfiguration.Error, parse.GetValue(CommonOptions.Verbose), normal);

    internal static ILoggerFactory Create(TextWriter error, bool verbose, LogLevel normal, bool journal)
    {
        var colour = !journal && ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
        var services = new ServiceCollection().AddLogging(b => b
            .SetMinimumLevel(verbose ? LogLevel.Debug : normal)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.ColorBehavior = colour ? LoggerColorBehavior.Enabled : LoggerColorBehavior.Disabled;
            })
            .AddSystemdConsole());
        // The console provider itself writes to the console from a background queue; ours writes the same
        // formatter's text to the invocation's stream at once, so lines keep their order with the command's output.
        services.RemoveAll<ILoggerProvider>();
        services.AddSingleton<ILoggerProvider>(sp => new WriterLoggerProvider(error,
            sp.GetServices<ConsoleFormatter>().Single(f => f.Name == (journal ? ConsoleFormatterNames.Systemd : ConsoleFormatterNames.Simple))));
        return new OwningLoggerFactory(services.BuildServiceProvider());
    }

    /// <summary>systemd sets JOURNAL_STREAM when it connects stdout or stderr to the journal.</summary>
    internal static bool UnderJournal(string? journalStream) => !string.IsNullOrEmpty(journalStream);

    private sealed class OwningLoggerFactory(ServiceProvider services) : ILoggerFactory
    {
        private readonly ILoggerFactory _factory = services.GetRequiredService<ILoggerFactory>();
        public ILogger CreateLogger(string categoryName) => _factory.CreateLogger(categoryName);
        public void AddProvider(ILoggerProvider provider) => _factory.AddProvider(provider);
        public void Dispose() => services.Dispose();
    }

    private sealed class WriterLoggerProvider(TextWriter writer, ConsoleFormatter formatter) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new WriterLogger(writer, formatter, categoryName);
        public void Dispose() { }
    }

    private sealed class WriterLogger(TextWriter writer, ConsoleFormatter formatter, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> format)
        {
            var entry = new LogEntry<TState>(logLevel, category, eventId, state, exception, format);
            lock (writer)
                formatter.Write(in entry, null, writer);
        }
    }
}

/// <summary>What the runner itself reports; event ids are never reused.</summary>
internal static partial class CliLog
{
    [LoggerMessage(1, LogLevel.Error, "{Message} Run '{Command} --help' for usage.", EventName = "UsageError")]
    public static partial void UsageError(ILogger logger, string message, string command);

    [LoggerMessage(2, LogLevel.Error, "{Message}", EventName = "Failed")]
    public static partial void Failed(ILogger logger, string message);

    [LoggerMessage(3, LogLevel.Error, "{Message} Run again with --verbose for the verifier's whole log.", EventName = "VerifierRejected")]
    public static partial void VerifierRejected(ILogger logger, string message);

    [LoggerMessage(4, LogLevel.Debug, "{Line}", EventName = "VerifierLog")]
    public static partial void VerifierLogLine(ILogger logger, string line);

    [LoggerMessage(5, LogLevel.Error, "{Message}", EventName = "SystemError")]
    public static partial void SystemError(ILogger logger, string message);

    [LoggerMessage(6, LogLevel.Error, "{Problem}", EventName = "ConfigProblem")]
    public static partial void ConfigProblem(ILogger logger, string problem);

    [LoggerMessage(10, LogLevel.Warning, "tracing is off: no new events until 'toa log --enable'", EventName = "TracingOff")]
    public static partial void TracingOff(ILogger logger);

    [LoggerMessage(11, LogLevel.Warning, "{Count} events lost: the trace buffer was full (read faster, or trace less)", EventName = "TraceEventsLost")]
    public static partial void TraceEventsLost(ILogger logger, ulong count);

    [LoggerMessage(12, LogLevel.Error, "Metrics: cannot read the counters: {Message}", EventName = "MetricsReadFailed")]
    public static partial void MetricsReadFailed(ILogger logger, string message);
}
