// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Net;
using Toa.Lab;
using Toa.Testing;

namespace Toa.Balancer.Packet.Tests;

/// <summary>
/// A balancer namespace between a client's and a server's, forwarding on, with the datapath loaded
/// (maps pinned in a directory of its own) and two listeners written: <see cref="Vip"/> and the NAT64
/// <see cref="Vip6"/> in front of <see cref="Backend"/>, reached from <see cref="Snat"/>. Disposing removes pins, filters and namespaces.
/// </summary>
internal sealed class DatapathLab : IDisposable
{
    public const uint ListenerId = 3, Nat64ListenerId = 4, BackendIndex = 7, Region = 1;
    public const ushort PortMin = 61000, PortMax = 65535;
    private const string PinRoot = "/sys/fs/bpf/toa-tests";
    private static int s_counter;
    private readonly Network _network;

    public DatapathLab(int maxFlows = 1024, ushort mss = 1400, PacketAbi.ToaFormat toa = PacketAbi.ToaFormat.Tencent, uint backends = 1)
    {
        KernelTest.Require("root, BPF and network namespaces");
        _network = Network.Create("fn");
        try
        {
            Client = _network.AddHost("client");
            Balancer = _network.AddHost("lb");
            Server = _network.AddHost("server");
            var toClient = _network.Connect(Client, Balancer);
            var toServer = _network.Connect(Balancer, Server);
            Shell.Run("ip", "netns", "exec", Balancer.Namespace, "sysctl", "-qw", "net.ipv4.conf.all.forwarding=1", "net.ipv6.conf.all.forwarding=1");
            ClientAddress = toClient.A.Ipv4;
            Client6Address = toClient.A.Ipv6;
            Vip = new IPEndPoint(toClient.B.Ipv4, 80);
            Vip6 = new IPEndPoint(toClient.B.Ipv6, 80);
            Snat = toServer.A.Ipv4;
            Backend = new IPEndPoint(toServer.B.Ipv4, 8000);
            PinDirectory = $"{PinRoot}/fullnat-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}";
            Datapath = FullnatDatapath.Open(PinDirectory, maxFlows);
            Datapath.SetConfig(new PacketAbi.Config { PortMin = PortMin, PortMax = PortMax });
            Datapath.SetBackend(BackendIndex, BackendOf(Backend, Snat));
            Datapath.SetTable(Region, Enumerable.Repeat(BackendIndex, PacketAbi.TableSize).ToArray());
            Datapath.SetVip(VipKeyOf(Vip), new PacketAbi.Vip { Id = ListenerId, Region = Region, Backends = backends, Mss = mss, Toa = toa });
            Datapath.SetVip(VipKeyOf(Vip6), new PacketAbi.Vip
            {
                Id = Nat64ListenerId, Region = Region, Backends = backends, Mss = mss, Toa = toa, Flags = PacketAbi.VipNat64,
            });
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public Host Client { get; } = null!;
    public Host Balancer { get; } = null!;
    public Host Server { get; } = null!;
    public IPAddress ClientAddress { get; } = null!;
    public IPEndPoint Vip { get; } = null!;
    public IPAddress Client6Address { get; } = null!;
    public IPEndPoint Vip6 { get; } = null!;
    public IPAddress Snat { get; } = null!;
    public IPEndPoint Backend { get; } = null!;
    public string PinDirectory { get; } = null!;
    public FullnatDatapath Datapath { get; } = null!;

    /// <summary>Runs fn_ingress on <paramref name="frame"/> inside the balancer's namespace (its routes decide).</summary>
    public (uint Verdict, byte[] Output) Run(byte[] frame) => Balancer.Enter(() =>
    {
        var output = new byte[frame.Length + 128];
        var verdict = Datapath.Program.TestRun(frame, output, out var length);
        return (verdict, output[..length]);
    });

    public long Count(PacketAbi.Counter counter, uint listener = ListenerId) => Datapath.ListenerCounts(listener)[(int)counter];

    private static byte FamilyOf(IPAddress a) => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? PacketAbi.AfInet6 : PacketAbi.AfInet;

    public static ushort Net(int port) => BinaryPrimitives.ReverseEndianness((ushort)port);

    public static unsafe PacketAbi.VipKey VipKeyOf(IPEndPoint vip)
    {
        var key = new PacketAbi.VipKey { Port = Net(vip.Port), Family = FamilyOf(vip.Address) };
        vip.Address.GetAddressBytes().CopyTo(new Span<byte>(key.Addr, 16));
        return key;
    }

    public static unsafe PacketAbi.Backend BackendOf(IPEndPoint backend, IPAddress snat)
    {
        var b = new PacketAbi.Backend { Port = Net(backend.Port), Family = PacketAbi.AfInet, Listener = ListenerId };
        backend.Address.GetAddressBytes().CopyTo(new Span<byte>(b.Addr, 16));
        snat.GetAddressBytes().CopyTo(new Span<byte>(b.Snat, 16));
        return b;
    }

    public static unsafe IPEndPoint Source(in PacketAbi.Flow f)
    {
        fixed (byte* a = f.SAddr)
            return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(a, f.Family == PacketAbi.AfInet6 ? 16 : 4)), Net(f.SPort));
    }

    public static unsafe IPEndPoint Destination(in PacketAbi.Flow f)
    {
        fixed (byte* a = f.DAddr)
            return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(a, f.Family == PacketAbi.AfInet6 ? 16 : 4)), Net(f.DPort));
    }

    public void Dispose()
    {
        try
        {
            Datapath?.Dispose();
            if (PinDirectory is not null)
            {
                // The filters go with the namespace's interfaces; the shared root goes with the last lab's pins.
                FullnatDatapath.Remove(PinDirectory, []);
            }
        }
        finally
        {
            _network?.Dispose();
        }
    }
}
