// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Toa.Bpf;

namespace Toa.Cli.CommandLine;

/// <summary>
/// Parses and runs a command line: parse errors become one line and exit code 2;
/// anticipated failures one line and their code; a verifier rejection its message
/// (and the whole log with --verbose).
/// </summary>
public static class CliRunner
{
    /// <summary>Runs <paramref name="args"/> against <paramref name="root"/>, writing to the given streams.</summary>
    public static async Task<int> RunAsync(RootCommand root, string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors.Take(1))
                await error.WriteLineAsync($"toa: {e.Message}");
            await error.WriteLineAsync($"Run '{CommandPath(parse)} --help' for usage.");
            return (int)ReturnCode.UsageError;
        }
        var verbose = parse.GetValue(CommonOptions.Verbose);
        LibBpfLog.Logger = Logging.Create(error, verbose).CreateLogger("libbpf");
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (CliException e)
        {
            await error.WriteLineAsync($"toa: {e.Message}");
            if (e.Code == ReturnCode.UsageError)
                await error.WriteLineAsync($"Run '{CommandPath(parse)} --help' for usage.");
            return (int)e.Code;
        }
        catch (VerifierException e)
        {
            await error.WriteLineAsync($"toa: {e.Message}");
            await error.WriteLineAsync(verbose ? e.ToString() : "Run again with --verbose for the verifier's whole log.");
            return (int)ReturnCode.Failure;
        }
        catch (Exception e) when (e is BpfException or SocketException or IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"toa: {e.Message}");
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

/// <summary>The logger factory commands share: stderr, warnings by default (or <c>normal</c>), everything with --verbose.</summary>
internal static class Logging
{
    public static ILoggerFactory Create(TextWriter error, bool verbose, LogLevel normal = LogLevel.Warning) =>
        LoggerFactory.Create(b => b
            .SetMinimumLevel(verbose ? LogLevel.Debug : normal)
            .AddProvider(new TextWriterLoggerProvider(error)));

    private sealed class TextWriterLoggerProvider(TextWriter writer) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new TextWriterLogger(writer);
        public void Dispose() { }
    }

    private sealed class TextWriterLogger(TextWriter writer) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (writer)
                writer.WriteLine($"toa: {formatter(state, exception)}");
        }
    }
}
