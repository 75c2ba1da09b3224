// SPDX-License-Identifier: MIT
using Toa.Balancer.Configuration;
using Toa.Sender;
using Toa.Wire;

namespace Toa.Balancer.Sender.Tests;

public class SenderToaWriterTests
{
    [Theory]
    [InlineData(false, ToaPlacement.Ack | ToaPlacement.Data)]
    [InlineData(true, ToaPlacement.Syn | ToaPlacement.Ack | ToaPlacement.Data)]
    public void PlacementFor_OnSyn_AddsTheSynToAckAndData(bool onSyn, ToaPlacement expected) =>
        Assert.Equal(expected, SenderToaWriter.PlacementFor(new ToaSettings(ToaFormat.Tencent, onSyn)));

    [Fact]
    public void IsNeededFor_OnlyWhenAProxyListenerWritesToa()
    {
        ListenerConfig Listener(string? toa, string? engine = null) => new() { Name = "l", Address = "127.0.0.1:0", Toa = toa, Engine = engine };

        Assert.False(SenderToaWriter.IsNeededFor(new BalancerConfig { Listeners = [Listener(null), Listener("off")] }));
        Assert.True(SenderToaWriter.IsNeededFor(new BalancerConfig { Listeners = [Listener("off"), Listener("DPVS")] }));
        Assert.False(SenderToaWriter.IsNeededFor(new BalancerConfig()));
        Assert.False(SenderToaWriter.IsNeededFor(new BalancerConfig { Listeners = [Listener("tencent", EngineNames.Packet)] }));
        Assert.True(SenderToaWriter.IsNeededFor(new BalancerConfig { Listeners = [Listener("tencent", EngineNames.Proxy)] }));
    }
}
