// SPDX-License-Identifier: MIT
using Toa.Wire;

namespace Toa.Core.Tests.Wire;

public class ToaLayoutTests
{
    [Theory]
    [InlineData(200, 8, ToaLayout.Tencent4)]
    [InlineData(253, 20, ToaLayout.Tencent6)]
    [InlineData(254, 8, ToaLayout.Dpvs4)]
    [InlineData(254, 20, ToaLayout.Dpvs6)]
    [InlineData(28, 7, ToaLayout.AlibabaCdn4)]
    [InlineData(28, 19, ToaLayout.AlibabaCdn6)]
    [InlineData(253, 8, ToaLayout.UCloud4)]
    public void TryFind_KindAndLength_GivesLayout(byte kind, byte length, ToaLayout expected)
    {
        Assert.True(ToaLayoutInfo.TryFind(kind, length, out var layout));
        Assert.Equal(expected, layout);
    }

    [Theory]
    [InlineData(200, 20)]
    [InlineData(253, 7)]
    [InlineData(28, 4)]
    [InlineData(2, 4)]
    [InlineData(0, 0)]
    public void TryFind_NoSuchLayout_ReturnsFalse(byte kind, byte length)
    {
        Assert.False(ToaLayoutInfo.TryFind(kind, length, out _));
    }

    [Fact]
    public void IsToaKind_EveryKind_OnlyTheLayoutKinds()
    {
        var kinds = Enumerable.Range(0, 256).Where(k => ToaLayoutInfo.IsToaKind((byte)k));

        Assert.Equal([28, 200, 253, 254], kinds);
    }
}
