// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Toa.Bpf;
using Toa.Bpf.Features;
using Toa.Lab;
using Toa.Receiver;
using Toa.Sockets;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.Receiver;

/// <summary>
/// The connections map, where records live by namespace and 4-tuple: emptied by every way a
/// connection closes, backed by socket storage when full or on kernels without the cookie helper,
/// and read across a <c>toa load --force</c> whichever home the old programs used.
/// </summary>
public sealed class ConnectionsMapTests : IDisposable
{
    private const int Port = 8000;

    /// <summary>Whether this kernel lets the programs use the map; without it every record stays in socket storage.</summary>
    private static readonly bool Mapped = FeatureProbes.Kernel.Check(KernelFeatures.NetnsCookie).Supported;
    private readonly ReceiverLabs _labs = new();

    public void Dispose() => _labs.Dispose();

    [Fact]
    public async Task EveryWayAConnectionCloses_LeavesTheMapEmpty()
    {
        var lab = _labs.Add();
        var listener = lab.ListenInCgroup(Port);
        var before = lab.Counters();
        try
        {
            // The server closes first (FIN, then TIME_WAIT).
            var connect = lab.ConnectAsync(Port, "", "--as", "203.0.113.7:4321");
            using (var closed = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30)))
            {
                Assert.Equal(Mapped ? 1 : 0, Entries(lab));
                closed.Close();
            }
            await connect;

            // The server closes abortively (RST), a NAT64 client this time.
            connect = lab.ConnectAsync(Port, "", "--as", "[2001:db8::7]:2222");
            using (var aborted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30)))
            {
                aborted.LingerState = new LingerOption(true, 0);
                aborted.Close();
            }
            await connect;

            // The client resets the connection (ss -K aborts its socket) while the server holds its own open.
            connect = lab.ConnectAsync(Port, "", "--as", "[2001:db8::8]:2222");
            using (var reset = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30)))
            {
                await lab.Client.RunAsync("ss", ["-K", "dst", lab.ServerAddress().ToString(), "dport", "=", $":{Port}"]);
                await WaitForEntriesAsync(lab, 0);
                Assert.Equal(0, Entries(lab));
            }
            await connect;

            // Connections established but never accepted when the listener closes.
            var unaccepted = new[] { lab.ConnectAsync(Port, "", "--as", "203.0.113.9:4321"), lab.ConnectAsync(Port, "", "--as", "[2001:db8::9]:2222") };
            await lab.WaitForCountersAsync(c => c["syn_recv_sock_toa"] - before["syn_recv_sock_toa"] == 5);
            Assert.Equal(Mapped ? 2 : 0, Entries(lab));
            listener.Close();
            await Task.WhenAll(unaccepted);
        }
        finally
        {
            listener.Dispose();
        }

        await WaitForEntriesAsync(lab, 0);
        var moved = await lab.WaitForCountersAsync(c => c["ip6_address_free"] - before["ip6_address_free"] == 3);
        Assert.Equal(0, Entries(lab));
        Assert.Equal(5ul, moved["syn_recv_sock_toa"] - before["syn_recv_sock_toa"]);
        Assert.Equal(3ul, moved["ip6_address_alloc"] - before["ip6_address_alloc"]);
        Assert.Equal(3ul, moved["ip6_address_free"] - before["ip6_address_free"]);
        Assert.Equal(0ul, moved["toa_conns_full"] - before["toa_conns_full"]);
    }

    [Fact]
    public async Task Full_RecordsGoToSocketStorage_CountedAndStillAnswered()
    {
        var lab = _labs.Add(new ReceiverOptions { Connections = 1 });
        using var listener = lab.ListenInCgroup(Port);

        var first = lab.ConnectAsync(Port, "", "--as", "203.0.113.7:4321");
        using var one = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var second = lab.ConnectAsync(Port, "", "--as", "[2001:db8::7]:2222");
        using var two = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(IPEndPoint.Parse("[::ffff:203.0.113.7]:4321"), one.RemoteEndPoint);
        Assert.Equal(IPEndPoint.Parse("[2001:db8::7]:2222"), two.RemoteEndPoint);
        Assert.Equal(IPEndPoint.Parse("203.0.113.7:4321"), Record(lab, one).Client);
        Assert.Equal(IPEndPoint.Parse("[2001:db8::7]:2222"), Record(lab, two).Client);
        Assert.Equal(Mapped ? 1 : 0, Entries(lab));
        Assert.Equal(Mapped ? 1ul : 0ul, lab.Counters()["toa_conns_full"]);
        Assert.Equal(Mapped ? 1u : null, ToaReceiver.Status(lab.PinDirectory)!.Connections);
        var table = lab.Server.Enter(() => ToaReceiver.ReadTable(lab.PinDirectory));
        Assert.Equal(["203.0.113.7:4321", "[2001:db8::7]:2222"], table.Select(c => c.Client.ToString()).Order());
        one.Close();
        two.Close();
        await Task.WhenAll(first, second);
    }

    [Fact]
    public async Task LoadForce_RecordsInSocketStorage_FoundByProgramsUsingTheMap()
    {
        ReceiverLab lab;
        // The receiver as loaded before the connections map, or on a kernel without bpf_get_netns_cookie.
        using (FeatureProbes.Kernel.Without(KernelFeatures.NetnsCookie).Use())
            lab = _labs.Add();
        using var listener = lab.ListenInCgroup(Port);
        Assert.Null(ToaReceiver.Status(lab.PinDirectory)!.Connections);
        var old = lab.ConnectAsync(Port, "", "--as", "203.0.113.7:4321");
        using var held = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, Entries(lab));

        ToaReceiver.Load(lab.Options, force: true);
        var fresh = lab.ConnectAsync(Port, "", "--as", "203.0.113.8:4321");
        using var added = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(IPEndPoint.Parse("203.0.113.7:4321"), Record(lab, held).Client);
        Assert.Equal(IPEndPoint.Parse("203.0.113.8:4321"), Record(lab, added).Client);
        Assert.Equal(Mapped ? 1 : 0, Entries(lab));
        var table = lab.Server.Enter(() => ToaReceiver.ReadTable(lab.PinDirectory));
        Assert.Equal(["203.0.113.7:4321", "203.0.113.8:4321"], table.Select(c => c.Client.ToString()).Order());
        held.Close();
        added.Close();
        await Task.WhenAll(old, fresh);
        await WaitForEntriesAsync(lab, 0);
        Assert.Equal(0, Entries(lab));
    }

    [Fact]
    public async Task Reader_KernelWithoutProgramErrno_AsksTheMapWhenTheOptionSaysNothing()
    {
        ReceiverLab lab;
        // As before 5.18: "no record" from getsockopt 4097 is the kernel's ENOPROTOOPT, so the reader asks socket storage.
        using (FeatureProbes.Kernel.Without(KernelFeatures.SockoptRetval).Use())
            lab = _labs.Add();
        using var listener = lab.ListenInCgroup(Port);
        var carrying = lab.ConnectAsync(Port, "", "--as", "203.0.113.7:4321");
        using var withToa = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var plain = lab.Client.Enter(() =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(lab.ServerAddress(), Port);
            return socket;
        });
        using var withoutToa = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));

        using var records = ReceiverRecords.TryOpen(lab.PinDirectory)!;
        Assert.True(records.TryGet(withToa, out var record));
        Assert.Equal(IPEndPoint.Parse("203.0.113.7:4321"), record.Client);
        Assert.False(records.TryGet(withoutToa, out _));
        var e = Assert.Throws<SocketException>(() => withoutToa.GetRawSocketOption(0, ToaSocketOption.GetRecord, new byte[72]));
        Assert.Equal(SocketError.ProtocolOption, e.SocketErrorCode);
        withToa.Close();
        withoutToa.Close();
        plain.Dispose();
        await carrying;
    }

    // What the .NET reader finds for a socket (getsockopt 4097, else the pinned socket storage).
    private static ToaConnection Record(ReceiverLab lab, Socket socket)
    {
        using var records = ReceiverRecords.TryOpen(lab.PinDirectory)!;
        Assert.True(records.TryGet(socket, out var record));
        return record;
    }

    private static int Entries(ReceiverLab lab)
    {
        using var map = BpfMap.OpenPinned(Path.Join(lab.PinDirectory, "connections"), readOnly: true);
        return map.Keys<FlowKeyBytes>().Count();
    }

    // A connection closes in the kernel a little after the call that closes it returns.
    private static async Task WaitForEntriesAsync(ReceiverLab lab, int expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20) * LabProcess.Patience;
        while (Entries(lab) != expected && DateTime.UtcNow < deadline)
            await Task.Delay(50);
    }

    // struct toa_flow_key's 40 bytes: only counted here.
    [InlineArray(40)]
    private struct FlowKeyBytes
    {
        private byte _first;
    }
}
