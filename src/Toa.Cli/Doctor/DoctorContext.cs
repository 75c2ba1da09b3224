// SPDX-License-Identifier: MIT
using Toa.Receiver;

namespace Toa.Cli.Doctor;

/// <summary>What <c>toa doctor</c> was asked, and what earlier checks learnt for later ones.</summary>
internal sealed class DoctorContext
{
    /// <summary>The receiver's pin directory.</summary>
    public required string PinDirectory { get; init; }

    /// <summary>The port whose listener and traffic to look at, if any.</summary>
    public int? Port { get; init; }

    /// <summary>The interface to capture on, if any.</summary>
    public string? CaptureInterface { get; init; }

    /// <summary>How long to capture.</summary>
    public TimeSpan CaptureDuration { get; init; }

    /// <summary>The command line as typed ("toa doctor --port 8000"), for the steps that repeat it.</summary>
    public string CommandLine { get; init; } = "toa doctor";

    /// <summary>Whether this process runs as root.</summary>
    public required bool IsRoot { get; init; }

    /// <summary>Where progress goes while something takes time (stderr): "capturing on ...".</summary>
    public required TextWriter Progress { get; init; }

    /// <summary>The loaded receiver, once the receiver check found it.</summary>
    public ReceiverStatus? Receiver { get; set; }

    /// <summary>Whether the listener check found a listener on the port outside the attach point.</summary>
    public bool ListenerUncovered { get; set; }

    /// <summary>" --pin-dir DIR" when the pin directory is not the default, for the commands suggested.</summary>
    public string PinDirArgument =>
        PinDirectory == ToaReceiver.DefaultPinDirectory ? "" : $" --pin-dir {PinDirectory}";
}
