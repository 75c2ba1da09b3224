// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Balancer.Configuration;
using Toa.Sender;

namespace Toa.Balancer.Sender.Tests;

public class SenderToaWriterTests
{
    [Theory]
    [InlineData(false, ToaPlacement.Ack | ToaPlacement.Data)]
    [InlineData(true, ToaPlacement.Syn | ToaPlacement.Ack | ToaPlacement.Data)]
    public void PlacementFor_OnSyn_AddsTheSynToAckAndData(bool onSyn, ToaPlacement expected) =>
        Assert.Equal(expected, SenderToaWriter.PlacementFor(new ToaSettings(ToaMode.Tencent, onSyn)));

    public static TheoryData<string, ToaSendReport, ToaPlacement> Reports => new()
    {
        { "all written", Report(requested: ToaPlacement.Default, written: ToaPlacement.Ack | ToaPlacement.Data), ToaPlacement.None },
        { "data not sent yet", Report(requested: ToaPlacement.Default, written: ToaPlacement.Ack), ToaPlacement.None },
        { "ack went without", Report(requested: ToaPlacement.Default, written: ToaPlacement.None), ToaPlacement.Ack },
        { "ack refused", Report(requested: ToaPlacement.Default, refused: ToaPlacement.Ack | ToaPlacement.Data), ToaPlacement.Ack | ToaPlacement.Data },
        { "syn refused, ack written", Report(requested: ToaPlacement.Default | ToaPlacement.Syn, written: ToaPlacement.Ack, refused: ToaPlacement.Syn), ToaPlacement.Syn },
                { "data refused later", Report(requested: ToaPlacement.Default, written: ToaPlacement.Ack, refused: ToaPlacement.Data), ToaPlacement.Data },
    };

    [Theory]
    [MemberData(nameof(Reports))]
    public void Missing_Report_SettledPlacementsWithoutTheOptionAndEveryRefusal(string scenario, ToaSendReport report, ToaPlacement expected) =>
        Assert.True(expected == SenderToaWriter.Missing(report), scenario);

    [Fact]
    public void IsNeededFor_OnlyWhenAListenerWritesToa()
    {
        ListenerConfig Listener(string? toa) => new() { Name = "l", Address = "127.0.0.1:0", Toa = toa };

        Assert.False(SenderToaWriter.IsNeededFor(new BalancerConfig { Listeners = [Listener(null), Listener("off")] }));
        Assert.True(SenderToaWriter.IsNeededFor(new BalancerConfig { Listeners = [Listener("off"), Listener("DPVS")] }));
        Assert.False(SenderToaWriter.IsNeededFor(new BalancerConfig()));
    }

    private static ToaSendReport Report(ToaPlacement requested, ToaPlacement written = ToaPlacement.None, ToaPlacement refused = ToaPlacement.None) =>
        new(requested, written, refused, 8, 1);
}
