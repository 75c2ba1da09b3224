// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Net;
using CsCheck;
using Toa.Testing;
using Toa.Wire;

namespace Toa.Receiver.Tests;

/// <summary>
/// Differential fuzzing of the two option parsers that must apply docs/receiver.md's "Parsing
/// rules": the kernel's (bpf/tcp_options.h, run through BPF_PROG_TEST_RUN) and the C# one
/// (<see cref="TcpOptions.Scan"/>, behind <c>toa capture</c> and <c>toa doctor</c>). Generated
/// blocks (<see cref="OptionBlockGen"/>) go through both; verdict, layout, address and port must
/// be the same, and CsCheck shrinks a disagreement to its smallest block.
/// </summary>
public sealed class TcpOptionsDifferentialTests(TcpOptionsParserTests.LoadedParser parser, ITestOutputHelper output)
    : IClassFixture<TcpOptionsParserTests.LoadedParser>
{
    /// <summary>Blocks per run unless TOA_DIFFERENTIAL_COUNT says otherwise: about 5 s here, under 20 s on a loaded 2-core machine.</summary>
    private const long DefaultCount = 50_000;

    [Fact]
    public void Parse_GeneratedBlocks_KernelAndManagedParsersAgree()
    {
        KernelTest.Require();
        var count = Count();
        long kernelTicks = 0, managedTicks = 0;
        var verdicts = new Dictionary<ToaVerdict, long>();
        var found = new HashSet<ToaLayout>();
        var watch = Stopwatch.StartNew();

        OptionBlockGen.Case.Sample(block =>
        {
            var start = Stopwatch.GetTimestamp();
            var kernel = Kernel(block);
            var middle = Stopwatch.GetTimestamp();
            var scan = TcpOptions.Scan(block.Bytes, block.Formats);
            var end = Stopwatch.GetTimestamp();
            kernelTicks += middle - start;
            managedTicks += end - middle;

            Assert.Equal(kernel, Managed(scan));
            verdicts[scan.Verdict] = verdicts.GetValueOrDefault(scan.Verdict) + 1;
            if (scan.Selected is { } toa)
                found.Add(toa.Layout);
        }, iter: count, threads: 1, writeLine: output.WriteLine);

        output.WriteLine($"{count:N0} blocks, 0 disagreements, {watch.Elapsed.TotalSeconds:F1} s; verdicts: "
            + string.Join(", ", verdicts.OrderBy(v => v.Key).Select(v => $"{v.Key} {v.Value:N0}")));
        output.WriteLine($"kernel parser (BPF_PROG_TEST_RUN, one syscall per block): {PerSecond(count, kernelTicks):N0} blocks/s; "
            + $"C# parser (TcpOptions.Scan): {PerSecond(count, managedTicks):N0} blocks/s");
        // The generator must reach every verdict and every layout, or agreeing proves little.
        if (count >= DefaultCount)
        {
            Assert.All(Enum.GetValues<ToaVerdict>(), v => Assert.True(verdicts.GetValueOrDefault(v) >= count / 50, $"{v}: {verdicts.GetValueOrDefault(v)} of {count}"));
            Assert.Equal(Enum.GetValues<ToaLayout>().Order(), found.Order());
        }
    }

    private static long Count() =>
        long.TryParse(Environment.GetEnvironmentVariable("TOA_DIFFERENTIAL_COUNT"), out var n) && n > 0 ? n : DefaultCount;

    private static double PerSecond(long count, long ticks) => count / ((double)ticks / Stopwatch.Frequency);

    private unsafe string Kernel(OptionBlock block)
    {
        var result = parser.Parse(block.Bytes, block.Formats);
        var verdict = (ToaVerdict)result.Verdict;
        if (verdict != ToaVerdict.Found)
            return verdict.ToString();
        var port = (ushort)IPAddress.NetworkToHostOrder((short)result.Port);
        return Describe(verdict, (ToaLayout)result.Layout, new ReadOnlySpan<byte>(result.Client, 16), port);
    }

    private static string Managed(TcpOptionScan scan)
    {
        if (scan.Verdict != ToaVerdict.Found)
            return scan.Verdict.ToString();
        if (scan.Selected is not { } toa)
            return "Found without a client";
        return Describe(scan.Verdict, toa.Layout, toa.Client.Address.MapToIPv6().GetAddressBytes(), toa.Client.Port);
    }

    private static string Describe(ToaVerdict verdict, ToaLayout layout, ReadOnlySpan<byte> client, int port) =>
        $"{verdict} {layout} {Convert.ToHexStringLower(client)} port {port}";
}
