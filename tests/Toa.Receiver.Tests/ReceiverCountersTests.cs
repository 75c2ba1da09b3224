// SPDX-License-Identifier: MIT
namespace Toa.Receiver.Tests;

public class ReceiverCountersTests
{
    private static ReceiverCounters Sample() => new(
    [
        new ToaCounter("syn_recv_sock_toa", [3, 12345678901]),
        new ToaCounter("getname_toa_ok", [0, 7]),
    ]);

    [Fact]
    public void FormatProcStats_TwoCpus_MatchesTheModulesLayoutByteForByte()
    {
        var text = Sample().FormatProcStats([0, 1]);

        var expected =
            new string(' ', 34) + "CPU0       CPU1       \n" +
            "syn_recv_sock_toa        :         3 12345678901 \n" +
            "getname_toa_ok           :         0          7 \n";
        Assert.Equal(expected, text);
    }

    [Fact]
    public void FormatProcStats_OfflineCpuSkipped_PrintsOnlyOnlineColumns()
    {
        var text = Sample().FormatProcStats([1]);

        Assert.Equal(new string(' ', 34) + "CPU1       \n", text.Split('\n')[0] + "\n");
        Assert.StartsWith("getname_toa_ok           :         7 ", text.Split('\n')[2]);
    }

    [Fact]
    public void Indexer_SumsEveryCpu()
    {
        Assert.Equal(12345678904UL, Sample()["syn_recv_sock_toa"]);
    }
}
