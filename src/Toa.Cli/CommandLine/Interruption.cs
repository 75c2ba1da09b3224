// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Cli.CommandLine;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM as a cancellation, for commands that run until stopped (watch,
/// serve, capture): they finish their output and exit 0 instead of dying of the signal.
/// </summary>
internal sealed class Interruption : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly PosixSignalRegistration[] _signals;

    private Interruption(CancellationToken cancel)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        _signals = [.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM }.Select(s => PosixSignalRegistration.Create(s, Stop))];
    }

    /// <summary>Cancelled by Ctrl+C, SIGTERM, or <c>cancel</c>.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>Starts listening for the signals until disposed.</summary>
    public static Interruption Listen(CancellationToken cancel) => new(cancel);

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        _stop.Cancel();
    }

    public void Dispose()
    {
        foreach (var signal in _signals)
            signal.Dispose();
        _stop.Dispose();
    }
}
