// SPDX-License-Identifier: MIT
using System.Text;
using CsCheck;
using Toa.Sockets;

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

        Assert.Equal(
            new string(' ', 34) + "CPU1       \n" +
            "syn_recv_sock_toa        :12345678901 \n" +
            "getname_toa_ok           :         7 \n", text);
    }

    /// <summary>
    /// toa-facts §3, written out as the module's seq_printf calls would produce it: 34 spaces,
    /// "CPU%d" and 7 spaces per CPU, a newline; per counter "%-25s:" then "%10lu " per CPU, a newline.
    /// printf widths are minimums: long names and values are never cut.
    /// </summary>
    private static string ModuleLayout(IReadOnlyList<(string Name, ulong[] PerCpu)> counters, IReadOnlyList<int> cpus)
    {
        var expected = new StringBuilder("                                  ");
        foreach (var cpu in cpus)
            expected.Append("CPU").Append(cpu).Append("       ");
        expected.Append('\n');
        foreach (var (name, perCpu) in counters)
        {
            expected.Append(name.Length >= 25 ? name : name + new string(' ', 25 - name.Length)).Append(':');
            foreach (var cpu in cpus)
            {
                var value = perCpu[cpu].ToString(System.Globalization.CultureInfo.InvariantCulture);
                expected.Append(value.Length >= 10 ? value : new string(' ', 10 - value.Length) + value).Append(' ');
            }
            expected.Append('\n');
        }
        return expected.ToString();
    }

    [Fact]
    public void FormatProcStats_AnyCountersAndOnlineCpus_MatchesTheModulesPrintfs()
    {
        var names = Gen.String[Gen.Char['a', 'z'], 1, 32];
        var gen =
            from possible in Gen.Int[1, 130]
            from online in Gen.Int[0, possible - 1].HashSet[1, Math.Min(possible, 12)]
            from counters in Gen.Select(names, Gen.ULong.Array[possible]).List[0, 14]
            select (possible, Online: online.Order().ToArray(), Counters: counters);

        gen.Sample(c =>
        {
            var counters = new ReceiverCounters([.. c.Counters.Select(x => new ToaCounter(x.Item1, x.Item2))]);

            Assert.Equal(ModuleLayout(c.Counters, c.Online), counters.FormatProcStats(c.Online));
        });
    }

    [Fact]
    public void Indexer_SumsEveryCpu()
    {
        Assert.Equal(12345678904UL, Sample()["syn_recv_sock_toa"]);
    }

    [Fact]
    public void Descriptions_EveryCounterOfTheMap_HasItsOwn()
    {
        Assert.All(ReceiverAbi.StatsFields, name => Assert.True(CounterDescriptions.IsKnown(name), $"{name} has no description"));
    }
}
