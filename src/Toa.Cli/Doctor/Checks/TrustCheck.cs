// SPDX-License-Identifier: MIT
using System.Net.Sockets;

namespace Toa.Cli.Doctor.Checks;

/// <summary>
/// Whose TOAs the receiver believes. No list (toa.ko's way) or a very wide one lets a
/// client that reaches the server directly claim any address.
/// </summary>
internal sealed class TrustCheck : IDoctorCheck
{
    // Wider than this is more than any load balancer fleet needs.
    private const int WidestIpv4Prefix = 8, WidestIpv6Prefix = 32;

    public string Name => "trust";

    public bool NeedsRoot => true;

    public bool AppliesTo(DoctorContext context) => true;

    public Task<IReadOnlyList<Finding>> RunAsync(DoctorContext context, CancellationToken cancel)
    {
        if (context.Receiver is not { } status)
            return Task.FromResult<IReadOnlyList<Finding>>([]);
        var findings = new List<Finding>();
        if (status.Trust.Count == 0)
            findings.Add(new(Name, Severity.Warning,
                "no trust list: a TOA from any peer is believed, so a client that reaches this server directly can claim any address",
                "name the load balancers' networks: " + LoadCommandText.Reload(context, status, ["CIDR"])));
        else
            findings.Add(new(Name, Severity.Ok, "believes TOAs only from peers in " + string.Join(' ', status.Trust)));
        var wide = status.Trust.Where(n => n.PrefixLength < (n.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? WidestIpv4Prefix : WidestIpv6Prefix)).ToArray();
        if (wide.Length > 0)
            findings.Add(new(Name, Severity.Warning,
                $"the trust list is very wide ({string.Join(' ', wide)}): most peers, not only the load balancers, may claim any client",
                "narrow it to the load balancers' networks: " + LoadCommandText.Reload(context, status, status.Trust.Except(wide).Select(n => n.ToString()).Append("CIDR"))));
        return Task.FromResult<IReadOnlyList<Finding>>(findings);
    }
}
