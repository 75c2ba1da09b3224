// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Wire;

namespace Toa.Core.Tests.Wire;

public class ToaAddressTests
{
    // The bytes the seed's tcpdump screenshots show for these clients.
    [Theory]
    [InlineData(ToaLayout.Tencent4, "203.0.113.7", 4321, "c80810e1cb007107")]
    [InlineData(ToaLayout.Tencent6, "2001:db8::7", 2222, "fd1408ae20010db8000000000000000000000007")]
    [InlineData(ToaLayout.Dpvs4, "203.0.113.7", 4321, "fe0810e1cb007107")]
    [InlineData(ToaLayout.AlibabaCdn4, "203.0.113.7", 0, "1c0701cb007107")]
    [InlineData(ToaLayout.UCloud4, "203.0.113.7", 4321, "fd0810e1cb007107")]
    public void Encode_KnownClient_GivesDocumentedBytes(ToaLayout layout, string address, int port, string hex)
    {
        var bytes = new ToaAddress(layout, new IPEndPoint(IPAddress.Parse(address), port)).Encode();

        Assert.Equal(hex, Convert.ToHexStringLower(bytes));
    }

    [Fact]
    public void Encode_ClientOfOtherFamily_Throws()
    {
        var option = new ToaAddress(ToaLayout.Tencent4, new IPEndPoint(IPAddress.Parse("2001:db8::7"), 1));

        Assert.Throws<ArgumentException>(() => option.Encode());
    }
}
