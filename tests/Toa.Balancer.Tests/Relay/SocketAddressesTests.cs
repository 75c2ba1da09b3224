// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Balancer.Relay;

namespace Toa.Balancer.Tests.Relay;

public class SocketAddressesTests
{
    [Theory]
    [InlineData("192.0.2.7:8080", 16)]
    [InlineData("[2001:db8::7]:443", 28)]
    [InlineData("[fe80::1%3]:65535", 28)]
    public void Write_ThenRead_SameEndPoint(string text, int expectedLength)
    {
        var endPoint = IPEndPoint.Parse(text);
        var buffer = new byte[SocketAddresses.MaxLength];

        var length = SocketAddresses.Write(endPoint, buffer);

        Assert.Equal(expectedLength, length);
        Assert.Equal(endPoint, SocketAddresses.Read(buffer.AsSpan(0, length)));
    }

    [Fact]
    public void Write_IPv4_IsTheKernelsSockaddrIn()
    {
        var buffer = new byte[SocketAddresses.MaxLength];

        SocketAddresses.Write(IPEndPoint.Parse("192.0.2.7:8080"), buffer);

        // AF_INET (2, host order), the port in network order, the address.
        Assert.Equal(new byte[] { 2, 0, 0x1f, 0x90, 192, 0, 2, 7, 0, 0, 0, 0, 0, 0, 0, 0 }, buffer[..16]);
    }

    [Fact]
    public void Read_OtherFamily_IsNull()
    {
        var unix = new byte[SocketAddresses.MaxLength];
        unix[0] = 1; // AF_UNIX

        Assert.Null(SocketAddresses.Read(unix));
    }
}
