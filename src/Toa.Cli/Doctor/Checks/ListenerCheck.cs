// SPDX-License-Identifier: MIT
using Toa.Bpf;
using Toa.Cli.CommandLine;

namespace Toa.Cli.Doctor.Checks;

/// <summary>
/// Whether the server listening on --port is covered: the receiver sees the sockets
/// created in its attach point's cgroup and below, and only those.
/// </summary>
internal sealed class ListenerCheck : IDoctorCheck
{
    public string Name => "listener";

    public bool NeedsRoot => true;

    public bool AppliesTo(DoctorContext context) => context.Port is not null;

    public Task<IReadOnlyList<Finding>> RunAsync(DoctorContext context, CancellationToken cancel)
    {
        var port = context.Port!.Value;
        var listeners = Listeners.OnPort(port);
        if (listeners.Count == 0)
            return Task.FromResult<IReadOnlyList<Finding>>([new(Name, Severity.Problem,
                $"nothing listens on TCP port {port} in this network namespace",
                $"start the server, or run doctor in the server's network namespace: nsenter --net=/var/run/netns/NAME toa doctor --port {port} "
                + $"(or nsenter -t SERVER_PID -n toa doctor --port {port})")]);
        var findings = new List<Finding>();
        var root = Cgroup.FindRoot() ?? "";
        var attach = context.Receiver?.Cgroup;
        foreach (var listener in listeners)
        {
            var where = EndPointText.Format(listener.Local);
            if (listener.Owners.Count == 0)
                findings.Add(new(Name, Severity.Warning,
                    $"a socket listens on {where} but no process here holds it (another PID namespace?): its cgroup is unknown"));
            foreach (var owner in listener.Owners)
            {
                var who = $"{owner.Name} (pid {owner.Pid}) listens on {where}";
                var cgroup = owner.Cgroup is null ? null : Path.TrimEndingDirectorySeparator(root + owner.Cgroup);
                if (attach is null || !attach.StartsWith('/'))
                    findings.Add(new(Name, Severity.Ok, $"{who} in cgroup {cgroup ?? "(none)"}; no receiver is attached to cover it"));
                else if (cgroup is not null && Within(cgroup, attach))
                    findings.Add(new(Name, Severity.Ok, $"{who} in cgroup {cgroup}: covered by the receiver attached at {attach}"));
                else
                {
                    context.ListenerUncovered = true;
                    findings.Add(new(Name, Severity.Problem,
                        $"{who} in cgroup {cgroup ?? "(none)"}, outside the receiver's attach point {attach}: its connections keep the load balancer's address",
                        $"start the server inside {attach} (a process moved there keeps the sockets it already made: restart it), "
                        + $"or attach higher: toa unload{context.PinDirArgument} && toa load --cgroup {CommonAncestor(cgroup ?? root, attach)} --trust CIDR{context.PinDirArgument}"));
                }
            }
        }
        return Task.FromResult<IReadOnlyList<Finding>>(findings);
    }

    private static bool Within(string path, string ancestor) =>
        path == ancestor || path.StartsWith(ancestor.TrimEnd('/') + "/", StringComparison.Ordinal);

    private static string CommonAncestor(string a, string b)
    {
        var x = a.Split('/');
        var y = b.Split('/');
        var same = x.Zip(y).TakeWhile(p => p.First == p.Second).Count();
        return string.Join('/', x.Take(same));
    }
}
