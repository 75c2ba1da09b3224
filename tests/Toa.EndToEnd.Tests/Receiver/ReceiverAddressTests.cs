// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Lab;
using Toa.Receiver;
using Toa.Sockets;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>
/// What servers see with the receiver loaded: a C server written from the load
/// balancer's documentation (getsockopt 4096 first, else getpeername) and a .NET
/// server, with connections from <c>toa connect</c> in another namespace.
/// </summary>
public sealed class ReceiverAddressTests : IDisposable
{
    private const int Port = 8000;
    private readonly ReceiverLabs _labs = new();

    public void Dispose() => _labs.Dispose();

    private ReceiverLab Lab(ReceiverOptions? options = null) => _labs.Add(options);

    private static async Task<IReadOnlyList<string>> ServeOneAsync(LabProcess server)
    {
        await server.WaitForLineAsync(l => l == "closed", TimeSpan.FromSeconds(30));
        return server.Output;
    }

    [Fact]
    public async Task CServer_Kind200_AcceptAndGetPeerNameGiveTheRealClient()
    {
        var lab = Lab();
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");
        var before = lab.Counters();

        var result = await lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("hello", result.StandardOutput);
        var lines = await ServeOneAsync(server);
        Assert.Contains("accepted v4 [203.0.113.7]:4321", lines);
        Assert.Contains(lab.Option4096RefusalLine, lines);
        Assert.Contains("real client v4 [203.0.113.7]:4321", lines);
        Assert.Equal(new Dictionary<string, ulong>
        {
            ["syn_recv_sock_toa"] = 1, ["getname_toa_ok"] = 2, ["getname_toa_mismatch"] = 1,
        }, lab.CountersSince(before));
    }

    [Fact]
    public async Task CServer_Kind253_GetSockOptGivesTheRealClientAndGetPeerNameKeepsSnat()
    {
        var lab = Lab();
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");
        var before = lab.Counters();

        var result = await lab.ConnectAsync(Port, "hello\n", "--as", "[2001:db8::7]:2222");

        Assert.Equal(0, result.ExitCode);
        var lines = await ServeOneAsync(server);
        Assert.Contains("real client v6 [2001:db8::7]:2222", lines);
        Assert.Contains(lines, l => l.StartsWith($"accepted v4 [{lab.Link.A.Ipv4}]:", StringComparison.Ordinal));
        var counters = await lab.WaitForCountersAsync(c => c["ip6_address_free"] > before["ip6_address_free"]);
        Assert.Equal(new Dictionary<string, ulong>
        {
            ["syn_recv_sock_toa"] = 1, ["getname_toa_ok"] = 1, ["getname_toa_bypass"] = 1,
            ["ip6_address_alloc"] = 1, ["ip6_address_free"] = 1,
        }, lab.CountersSince(before));
        Assert.Equal(counters["ip6_address_alloc"], counters["ip6_address_free"]);
    }

    [Fact]
    public async Task CServer_DualStackListenerKind200_ShowsMappedAddress()
    {
        var lab = Lab();
        var server = await lab.StartCServerAsync("-6", "-n", "1", $"{Port}");

        await lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321");

        var lines = await ServeOneAsync(server);
        Assert.Contains("accepted v6 [::ffff:203.0.113.7]:4321", lines);
        Assert.Contains("real client v6 [::ffff:203.0.113.7]:4321", lines);
    }

    [Fact]
    public async Task CServer_DualStackListenerKind253_GetPeerNameGivesTheIpv6Client()
    {
        var lab = Lab();
        var server = await lab.StartCServerAsync("-6", "-n", "1", $"{Port}");

        await lab.ConnectAsync(Port, "hello\n", "--v6-target", "--as", "[2001:db8::7]:2222");

        var lines = await ServeOneAsync(server);
        Assert.Contains("accepted v6 [2001:db8::7]:2222", lines);
        Assert.Contains("real client v6 [2001:db8::7]:2222", lines);
    }

    [Fact]
    public async Task CServer_Nat64PeerSnat_GetPeerNameKeepsTheLoadBalancer()
    {
        var lab = Lab(new ReceiverOptions { Nat64Peer = Nat64PeerMode.Snat });
        var server = await lab.StartCServerAsync("-6", "-n", "1", $"{Port}");

        await lab.ConnectAsync(Port, "hello\n", "--v6-target", "--as", "[2001:db8::7]:2222");

        var lines = await ServeOneAsync(server);
        Assert.Contains(lines, l => l.StartsWith($"accepted v6 [{lab.Link.A.Ipv6}]:", StringComparison.Ordinal));
        Assert.Contains("real client v6 [2001:db8::7]:2222", lines);
    }

    [Fact]
    public async Task CServer_NoToa_SeesTheTruePeerAndEinval()
    {
        var lab = Lab();
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");
        var before = lab.Counters();

        var local = lab.Client.Enter(() =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(lab.ServerAddress(), Port);
            socket.Send("hello\n"u8);
            socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[16];
            while (socket.Receive(buffer) > 0)
            {
            }
            return (IPEndPoint)socket.LocalEndPoint!;
        });

        var lines = await ServeOneAsync(server);
        Assert.Contains($"accepted v4 [{local.Address}]:{local.Port}", lines);
        Assert.Contains(lab.Option4096RefusalLine, lines);
        Assert.Contains($"real client v4 [{local.Address}]:{local.Port}", lines);
        Assert.Equal(new Dictionary<string, ulong> { ["syn_recv_sock_no_toa"] = 1, ["getname_toa_empty"] = 1 },
            lab.CountersSince(before));
    }

    [Fact]
    public async Task CServer_ToaInSynOnly_TakenFromTheSyn()
    {
        var lab = Lab();
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");
        var before = lab.Counters();

        var result = await lab.ConnectAsync(Port, "hello\n", "--as", "[2001:db8::7]:2222", "--in", "syn");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("real client v6 [2001:db8::7]:2222", await ServeOneAsync(server));
        var moved = lab.CountersSince(before);
        Assert.Equal(1UL, moved["syn_recv_sock_toa"]);
        Assert.Equal(1UL, moved["toa_from_syn"]);
    }

    [Fact]
    public async Task CServer_SyncookiesAlwaysAndToaInSynOnly_TakenFromTheSyn()
    {
        var lab = Lab();
        await lab.Server.RunAsync("sysctl", ["-qw", "net.ipv4.tcp_syncookies=2"]);
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");

        var result = await lab.ConnectAsync(Port, "hello\n", "--as", "[2001:db8::7]:2222", "--in", "syn");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("real client v6 [2001:db8::7]:2222", await ServeOneAsync(server));
        Assert.Equal("2", (await lab.Server.RunAsync("sysctl", ["-n", "net.ipv4.tcp_syncookies"])).StandardOutput.Trim());
    }

    [Fact]
    public async Task CServer_ToaInDataOnly_TakenFromTheFirstData()
    {
        var lab = Lab();
        var server = await lab.StartCServerAsync("-d", "-n", "1", $"{Port}");
        var before = lab.Counters();

        await lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321", "--in", "data");

        Assert.Contains("real client v4 [203.0.113.7]:4321", await ServeOneAsync(server));
        var moved = lab.CountersSince(before);
        Assert.Equal(1UL, moved["syn_recv_sock_no_toa"]);
        Assert.Equal(1UL, moved["toa_from_data"]);
    }

    [Fact]
    public async Task CServer_DpvsFormat_Kind254Honoured()
    {
        var lab = Lab();
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");

        await lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321", "--format", "dpvs");

        Assert.Contains("real client v4 [203.0.113.7]:4321", await ServeOneAsync(server));
    }

    [Fact]
    public async Task CServer_PeerOutsideTrustList_TruePeerAndCounted()
    {
        var lab = Lab(new ReceiverOptions { Trust = [IPNetwork.Parse("192.0.2.0/24")] });
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");
        var before = lab.Counters();

        await lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321");

        Assert.Contains(await ServeOneAsync(server), l => l.StartsWith($"real client v4 [{lab.Link.A.Ipv4}]:", StringComparison.Ordinal));
        Assert.Equal(1UL, lab.CountersSince(before)["toa_untrusted"]);
    }

    [Fact]
    public async Task CServer_PeerInsideTrustList_RealClient()
    {
        var lab = Lab(new ReceiverOptions { Trust = [IPNetwork.Parse("192.0.2.0/24"), IPNetwork.Parse("10.200.0.0/16")] });
        var server = await lab.StartCServerAsync("-n", "1", $"{Port}");

        await lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321");

        Assert.Contains("real client v4 [203.0.113.7]:4321", await ServeOneAsync(server));
        Assert.Equal(2, ToaReceiver.Status(lab.PinDirectory)!.Trust.Count);
    }

    [Fact]
    public async Task CServer_NotRoot_ReadsItsOwnRecordFromTheReadOnlyPin()
    {
        var lab = Lab();
        var server = lab.Server.Start("setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", CSamples.Build("toa_server"), "-n", "1", "-r",
             Path.Combine(lab.PinDirectory, "records"), $"{Port}"], lab.Cgroup.Path);
        await server.WaitForLineAsync(l => l.StartsWith("listening", StringComparison.Ordinal), TimeSpan.FromSeconds(20));

        await lab.ConnectAsync(Port, "hello\n", "--as", "203.0.113.7:4321");

        var lines = await ServeOneAsync(server);
        // getsockopt 4097 answers the record itself: no bpf() call, which kernel.unprivileged_bpf_disabled
        // (Debian's default: 2) closes to processes without CAP_BPF before 5.19, opening a pin included.
        Assert.Contains("record client [::ffff:203.0.113.7]:4321 layout 0 source 1", lines);
        Assert.Contains("real client v4 [203.0.113.7]:4321", lines);
    }

    [Fact]
    public async Task DotNetServer_Kind253_RemoteEndPointAndRawOption4096Agree()
    {
        var lab = Lab();
        using var listener = lab.ListenInCgroup(Port);
        var accept = listener.AcceptAsync();

        var connect = lab.ConnectAsync(Port, "", "--v6-target", "--as", "[2001:db8::7]:2222");
        using var connection = await accept.WaitAsync(TimeSpan.FromSeconds(30));

        var remote = (IPEndPoint)connection.RemoteEndPoint!;
        var raw = new byte[20];
        var length = connection.GetRawSocketOption(0, 4096, raw);
        var fromOption = new IPEndPoint(new IPAddress(raw.AsSpan(0, 16)), raw[16] << 8 | raw[17]);
        Assert.Equal(20, length);
        Assert.Equal(IPEndPoint.Parse("[2001:db8::7]:2222"), remote);
        Assert.Equal(remote, fromOption);
        using var records = ReceiverRecords.TryOpen(lab.PinDirectory)!;
        Assert.True(records.TryGet(connection, out var record));
        Assert.Equal(remote, record.Client);
        Assert.Equal(ToaSource.Ack, record.Source);
        var shortBuffer = Assert.Throws<SocketException>(() => connection.GetRawSocketOption(0, 4096, new byte[19]));
        Assert.Equal(lab.Option4096Refusal, shortBuffer.SocketErrorCode);
        connection.Close();
        Assert.Equal(0, (await connect).ExitCode);
    }

    [Fact]
    public async Task DotNetServer_NoNat64Client_RawOption4096FailsAsStatusSays()
    {
        var lab = Lab();
        using var listener = lab.ListenInCgroup(Port);
        var accept = listener.AcceptAsync();

        var connect = lab.ConnectAsync(Port, "", "--v6-target", "--as", "203.0.113.7:4321");
        using var connection = await accept.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(IPEndPoint.Parse("[::ffff:203.0.113.7]:4321"), connection.RemoteEndPoint);
        var e = Assert.Throws<SocketException>(() => connection.GetRawSocketOption(0, 4096, new byte[20]));
        Assert.Equal(lab.Option4096Refusal, e.SocketErrorCode);
        // Every other option passes untouched: the kernel's own answers and errors.
        Assert.True((int)connection.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveBuffer)! > 0);
        var tcpLevel = Assert.Throws<SocketException>(() => connection.GetRawSocketOption(6, 4096, new byte[20]));
        Assert.Equal(SocketError.ProtocolOption, tcpLevel.SocketErrorCode);
        connection.Close();
        Assert.Equal(0, (await connect).ExitCode);
    }
}
