// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using Toa.Cli.Doctor;

namespace Toa.Cli.Tests.Doctor;

public class ListenersTests
{
    [Theory]
    [InlineData("0100007F:1F40", "127.0.0.1:8000")]
    [InlineData("00000000:0016", "0.0.0.0:22")]
    [InlineData("00000000000000000000000001000000:1F90", "[::1]:8080")]
    [InlineData("0000000000000000FFFF00000100007F:0050", "127.0.0.1:80")]
    public void ParseEndPoint_ProcNetTcpText_TheEndPoint(string text, string expected)
    {
        Assert.Equal(IPEndPoint.Parse(expected), Listeners.ParseEndPoint(text));
    }

    [Fact]
    public void OnPort_OurOwnListener_FoundWithThisProcessAndItsCgroup()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;

        var found = Assert.Single(Listeners.OnPort(port));

        Assert.Equal(listener.LocalEndPoint, found.Local);
        var owner = Assert.Single(found.Owners);
        Assert.Equal(Environment.ProcessId, owner.Pid);
        Assert.Equal(File.ReadLines("/proc/self/cgroup").First(l => l.StartsWith("0::", StringComparison.Ordinal))[3..], owner.Cgroup);
    }
}
