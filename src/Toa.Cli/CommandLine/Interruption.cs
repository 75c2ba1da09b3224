// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace Toa.Cli.CommandLine;

/// <summary>
/// The one place the CLI handles signals, for commands that run until stopped (lb, metrics,
/// log -f, stats --watch, capture). Ctrl+C (SIGINT) and SIGTERM become a cancellation: the command
/// finishes its output and exits 0 instead of dying of the signal; a second one ends the process
/// at once. SIGHUP (a closed terminal, or a <c>kill -HUP</c> meant for the balancer) runs
/// <c>hangup</c>, or is ignored: it never kills a command.
/// </summary>
internal sealed class Interruption : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly Action<PosixSignal>? _stopping;
    private readonly Action? _hangup;
    private readonly PosixSignalRegistration[] _signals;

    private Interruption(CancellationToken cancel, Action<PosixSignal>? stopping, Action? hangup)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        _stopping = stopping;
        _hangup = hangup;
        _signals =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop),
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, Hangup),
        ];
    }

    /// <summary>Cancelled by Ctrl+C, SIGTERM, or <c>cancel</c>.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>Starts listening for the signals until disposed.</summary>
    /// <param name="cancel">Also stops the command.</param>
    /// <param name="stopping">Told which signal stops the command, once (to log it).</param>
    /// <param name="hangup">What SIGHUP does, on a thread-pool thread; null ignores it.</param>
    public static Interruption Listen(CancellationToken cancel, Action<PosixSignal>? stopping = null, Action? hangup = null) =>
        new(cancel, stopping, hangup);

    private void Stop(PosixSignalContext context)
    {
        // A second signal takes its default action: the process ends at once.
        if (_stop.IsCancellationRequested)
            return;
        context.Cancel = true;
        _stopping?.Invoke(context.Signal);
        _stop.Cancel();
    }

    private void Hangup(PosixSignalContext context)
    {
        context.Cancel = true;
        if (_hangup is { } hangup)
            ThreadPool.UnsafeQueueUserWorkItem(_ => hangup(), null);
    }

    public void Dispose()
    {
        foreach (var signal in _signals)
            signal.Dispose();
        _stop.Dispose();
    }
}
