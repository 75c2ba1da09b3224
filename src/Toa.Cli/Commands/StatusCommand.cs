// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Text.Json;
using Toa.Bpf;
using Toa.Cli.CommandLine;
using Toa.Cli.Receiver;
using Toa.Cli.Stats;
using Toa.Receiver;
using Toa.Wire;

namespace Toa.Cli.Commands;

/// <summary><c>toa status</c>: what <c>lsmod | grep toa</c> tells, and the settings.</summary>
internal static class StatusCommand
{
    private static readonly Option<string?> PinDir = ReceiverCommandOptions.PinDir();

    private static readonly Option<bool> Json = CommonOptions.Json(
        "{\"loaded\", \"pin_directory\", and when loaded \"cgroup\", \"since\", \"formats\": [...], \"trust\": [CIDR...], "
        + "\"netns\": [inode...] or null for every namespace, \"nat64_peer\": \"real\"|\"snat\", \"getsockopt_errno\": "
        + "\"EINVAL\"|\"ENOPROTOOPT\", \"connections\": N or null, \"programs\": [{\"hook\", \"program_id\", \"link_id\"}], \"tracing\"}");

    public static Command Create()
    {
        var command = new Command("status",
            "Tell whether the receiver is loaded, where it is attached, the formats, trust list and network namespaces it uses, its programs' "
            + "ids and since when. Exit code 0 when loaded, 3 when not (as systemctl status and LSB init scripts say 'not running'). Needs root.\n\nExample: toa status")
        {
            PinDir,
            Json,
        };
        command.SetAction(parse =>
        {
            Privileges.RequireRoot("status");
            var output = parse.InvocationConfiguration.Output;
            var pins = ReceiverCommandOptions.PinDirOf(parse, PinDir);
            var status = ToaReceiver.Status(pins);
            if (parse.GetValue(Json))
            {
                output.WriteLine(StatsJson.Write(json => WriteJson(json, pins, status)));
                return (int)(status is null ? ReturnCode.Failure : ReturnCode.Ok);
            }
            if (status is null)
            {
                output.WriteLine($"TOA receiver: not loaded (nothing pinned at {pins})");
                return (int)ReturnCode.NotLoaded;
            }
            output.WriteLine("TOA receiver: loaded");
            output.WriteLine($"  attached to:  {status.Cgroup}");
            output.WriteLine($"  pinned under: {status.PinDirectory}");
            output.WriteLine($"  since:        {status.Since:yyyy-MM-dd HH:mm:ss zzz}");
            output.WriteLine($"  formats:      {ReceiverCommandOptions.Describe(status.Formats)}");
            output.WriteLine($"  trust:        {(status.Trust.Count == 0 ? "every peer" : string.Join(' ', status.Trust))}");
            output.WriteLine($"  netns:        {Describe(status.Namespaces)}");
            output.WriteLine($"  nat64 peer:   {(status.Nat64Peer == Nat64PeerMode.Real ? "real (getpeername on AF_INET6 sockets gives the IPv6 client)" : "snat (getpeername keeps the load balancer's address)")}");
            output.WriteLine($"  getsockopt 4096 without a NAT64 client: {(status.ErrnoFromProgram ? "EINVAL" : "ENOPROTOOPT (this kernel lets programs choose no errno)")}");
            output.WriteLine($"  records:      {(status.Connections is { } room ? $"connections map, {room} connections (128 B each; beyond it socket storage, counted in toa_conns_full)" : "socket storage (about 370 B a connection: no bpf_get_netns_cookie in these programs before 5.15)")}");
            output.WriteLine($"  programs:     {string.Join(", ", status.Programs.Select(p => $"{p.Hook} id {p.ProgramId} (link {p.LinkId})"))}");
            output.WriteLine($"  tracing:      {(ReceiverTrace.IsEnabled(pins) ? "on (toa log -f prints the events; toa log --disable)" : "off (toa log --enable)")}");
            if (status.Trust.Count == 0)
                output.WriteLine("warning: no trust list: any client that reaches this server directly can claim any address "
                    + "with a TOA option; load with --trust CIDR naming the load balancers' networks");
            return (int)ReturnCode.Ok;
        });
        return command;
    }

    private static void WriteJson(Utf8JsonWriter json, string pins, ReceiverStatus? status)
    {
        json.WriteBoolean("loaded", status is not null);
        json.WriteString("pin_directory", status?.PinDirectory ?? pins);
        if (status is null)
            return;
        json.WriteString("cgroup", status.Cgroup);
        json.WriteString("since", status.Since);
        json.WriteStartArray("formats");
        foreach (var layout in status.Formats.Members())
            json.WriteStringValue(layout.Describe());
        json.WriteEndArray();
        json.WriteStartArray("trust");
        foreach (var network in status.Trust)
            json.WriteStringValue(network.ToString());
        json.WriteEndArray();
        if (status.Namespaces is null)
            json.WriteNull("netns");
        else
        {
            json.WriteStartArray("netns");
            foreach (var ns in status.Namespaces)
                json.WriteStringValue(ns.ToString());
            json.WriteEndArray();
        }
        json.WriteString("nat64_peer", status.Nat64Peer == Nat64PeerMode.Real ? "real" : "snat");
        json.WriteString("getsockopt_errno", status.ErrnoFromProgram ? "EINVAL" : "ENOPROTOOPT");
        if (status.Connections is { } connections)
            json.WriteNumber("connections", connections);
        else
            json.WriteNull("connections");
        json.WriteStartArray("programs");
        foreach (var p in status.Programs)
        {
            json.WriteStartObject();
            json.WriteString("hook", p.Hook);
            json.WriteNumber("program_id", p.ProgramId);
            json.WriteNumber("link_id", p.LinkId);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteBoolean("tracing", ReceiverTrace.IsEnabled(pins));
    }

    // The namespaces with the paths that name them here: this one, and ip netns's.
    private static string Describe(IReadOnlyList<NetworkNamespace>? namespaces)
    {
        if (namespaces is null)
            return "every network namespace";
        var names = new Dictionary<NetworkNamespace, string>();
        foreach (var path in Directory.Exists(NamedNamespaces) ? Directory.EnumerateFiles(NamedNamespaces) : [])
        {
            try
            {
                names.TryAdd(NetworkNamespace.Of(path), path);
            }
            catch (ArgumentException)
            {
                // Not a namespace (or one being deleted): nothing to name.
            }
        }
        names[NetworkNamespace.Of(NetworkNamespace.Current)] = "this one";
        return namespaces.Count == 0
            ? "none"
            : string.Join(", ", namespaces.Select(ns => names.TryGetValue(ns, out var name) ? $"{ns} ({name})" : ns.ToString()));
    }

    private const string NamedNamespaces = "/var/run/netns";
}
