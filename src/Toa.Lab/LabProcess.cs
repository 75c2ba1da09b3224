// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Text;

namespace Toa.Lab;

/// <summary>
/// A process started in a lab host: its output is collected line by line so a
/// caller can wait for a line; disposing kills it (and its children).
/// </summary>
public sealed class LabProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];
    private readonly List<string> _error = [];
    private readonly Task _readers;
    private readonly SemaphoreSlim _changed = new(0);

    private LabProcess(Process process, string label)
    {
        _process = process;
        Label = label;
        _readers = Task.WhenAll(Pump(process.StandardOutput, _output), Pump(process.StandardError, _error));
    }

    /// <summary>What the process is, for messages.</summary>
    public string Label { get; }

    /// <summary>The process id (of nsenter, which execs into the command).</summary>
    public int Id => _process.Id;

    /// <summary>The process's stdin.</summary>
    public StreamWriter StandardInput => _process.StandardInput;

    /// <summary>Lines written to stdout so far.</summary>
    public IReadOnlyList<string> Output { get { lock (_output) return [.. _output]; } }

    /// <summary>Lines written to stderr so far.</summary>
    public IReadOnlyList<string> Error { get { lock (_error) return [.. _error]; } }

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    internal static LabProcess Start(IEnumerable<string> command, string label, IReadOnlyDictionary<string, string>? environment)
    {
        var list = command.ToList();
        var info = Shell.StartInfo(list[0], list.Skip(1));
        info.StandardOutputEncoding = Encoding.UTF8;
        if (environment is not null)
            foreach (var (k, v) in environment)
                info.Environment[k] = v;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"{label}: could not start");
        return new LabProcess(process, label);
    }

    /// <summary>
    /// How many times longer than asked every wait lasts: <c>TOA_LAB_PATIENCE</c>, a factor
    /// (default 1), for where everything is slower, as in the kernel matrix's emulated guests.
    /// </summary>
    public static double Patience { get; } =
        double.TryParse(Environment.GetEnvironmentVariable("TOA_LAB_PATIENCE"), System.Globalization.CultureInfo.InvariantCulture, out var factor) && factor >= 1
            ? factor
            : 1;

    /// <summary>Waits until stdout or stderr has a line matching <paramref name="match"/>; returns it.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        timeout *= Patience;
        using var cancel = new CancellationTokenSource(timeout);
        while (true)
        {
            // Read before the look: output that ended before it is all in the lines looked at.
            var ended = _readers.IsCompleted;
            var line = Output.Concat(Error).FirstOrDefault(match);
            if (line is not null)
                return line;
            if (ended)
                throw new InvalidOperationException($"{Label} ended (exit {ExitCodeText}) without the expected line; it printed:\n{Transcript}");
            try
            {
                await _changed.WaitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{Label}: no expected line within {timeout.TotalSeconds}s; it printed:\n{Transcript}");
            }
        }
    }

    /// <summary>Waits for the process to exit and returns what it did.</summary>
    public async Task<ProcessResult> WaitAsync(TimeSpan timeout)
    {
        timeout *= Patience;
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{Label}: still running after {timeout.TotalSeconds}s; it printed:\n{Transcript}");
        }
        await _readers;
        return new ProcessResult(_process.ExitCode, string.Join('\n', Output), string.Join('\n', Error));
    }

    /// <summary>Sends SIGINT (as Ctrl+C) and waits for the exit.</summary>
    public async Task InterruptAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
            return;
        Shell.TryRun("kill", "-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await WaitAsync(timeout);
    }

    /// <summary>Everything the process printed, for failure messages.</summary>
    public string Transcript => string.Join('\n', Output.Select(l => "  out: " + l).Concat(Error.Select(l => "  err: " + l)));

    private string ExitCodeText => _process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";

    /// <summary>Kills the process and its children if still running.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited in between.
        }
    }

    private async Task Pump(StreamReader reader, List<string> lines)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (lines)
                lines.Add(line);
            _changed.Release();
        }
        _changed.Release();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Kill();
        await _readers.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _process.Dispose();
    }
}
