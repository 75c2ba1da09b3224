// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Receiver;

namespace Toa.Cli.Doctor.Checks;

/// <summary>
/// The FAQ's "is it loaded" (<c>lsmod | grep toa</c>): the pins, the programs behind
/// them and the cgroup they are attached to.
/// </summary>
internal sealed class ReceiverCheck : IDoctorCheck
{
    public string Name => "receiver";

    public bool NeedsRoot => true;

    public bool AppliesTo(DoctorContext context) => true;

    public Task<IReadOnlyList<Finding>> RunAsync(DoctorContext context, CancellationToken cancel)
    {
        var pins = context.PinDirectory;
        if (!ToaReceiver.IsLoaded(pins))
            return Done(new Finding(Name, Severity.Problem,
                $"the TOA receiver is not loaded: nothing is pinned at {pins}, so servers see the load balancer's address",
                LoadCommandText.Fresh(context)));
        ReceiverStatus status;
        try
        {
            status = ToaReceiver.Status(pins)!;
        }
        catch (Exception e) when (e is BpfException or IOException or InvalidOperationException)
        {
            return Done(new Finding(Name, Severity.Problem, $"the receiver's pins under {pins} are damaged: {e.Message}",
                $"toa unload{context.PinDirArgument}, then {LoadCommandText.Fresh(context)}"));
        }
        context.Receiver = status;
        var findings = new List<Finding>
        {
            new(Name, Severity.Ok, $"loaded since {status.Since:yyyy-MM-dd HH:mm:ss zzz}, pinned under {pins}: "
                + string.Join(", ", status.Programs.Select(p => $"{p.Hook} (program {p.ProgramId}, link {p.LinkId})"))),
            new(Name, Severity.Ok, $"honours {LoadCommandText.Describe(status.Formats)}"),
        };
        // Link info names the cgroup by id; a removed cgroup leaves its programs attached to nothing.
        findings.Add(status.Cgroup.StartsWith('/')
            ? new(Name, Severity.Ok, $"attached at {status.Cgroup}: it covers the listening sockets created in it and below it")
            : new(Name, Severity.Problem, $"attached to a cgroup that no longer exists ({status.Cgroup}): no server is covered",
                $"toa unload{context.PinDirArgument}, then {LoadCommandText.Fresh(context, "PATH")}"));
        return Done([.. findings]);
    }

    private static Task<IReadOnlyList<Finding>> Done(params Finding[] findings) => Task.FromResult<IReadOnlyList<Finding>>(findings);
}
