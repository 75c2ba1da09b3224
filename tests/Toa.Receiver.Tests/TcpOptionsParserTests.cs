// SPDX-License-Identifier: MIT
using System.Net;
using System.Runtime.InteropServices;
using Toa.Bpf;
using Toa.Sockets;
using Toa.Testing;
using Toa.Wire;

namespace Toa.Receiver.Tests;

/// <summary>
/// The receiver's option parser run by the kernel's own verifier and JIT through
/// BPF_PROG_TEST_RUN (an XDP entry around the same code the sock_ops program uses),
/// driven by table fixtures: options bytes in, verdict and client out.
/// </summary>
public sealed class TcpOptionsParserTests(TcpOptionsParserTests.LoadedParser parser) : IClassFixture<TcpOptionsParserTests.LoadedParser>
{
    /// <summary>The parser's object, verified once for the whole class.</summary>
    public sealed class LoadedParser : IDisposable
    {
        private readonly BpfObject? _object;
        private readonly BpfProgram? _program;

        public LoadedParser()
        {
            if (KernelTest.Missing is not null)
                return;
            _object = BpfObject.OpenEmbedded(typeof(ToaReceiver).Assembly, ReceiverAbi.ParserTestResource);
            _object.Load();
            _program = _object.Program(ReceiverAbi.ParseFixtureProgram);
        }

        /// <summary>
        /// Runs the kernel's parser on a header of 20 bytes plus <paramref name="options"/> (whole
        /// words, at most 40 bytes), of which the first <paramref name="cutTo"/> bytes exist.
        /// </summary>
        internal unsafe ReceiverAbi.ParseResult Parse(ReadOnlySpan<byte> options, ToaLayouts formats, int? cutTo = null)
        {
            KernelTest.Require();
            Assert.True(options.Length % 4 == 0 && options.Length <= 40, $"options must be whole words: {options.Length} bytes");
            var fixture = new ReceiverAbi.ParseFixture { Formats = (uint)formats };
            var headerLength = 20 + options.Length;
            fixture.HeaderLen = (uint)(cutTo ?? headerLength);
            fixture.Header[12] = (byte)(headerLength / 4 << 4);
            fixture.Header[13] = 0x10; // ACK
            for (var i = 0; i < options.Length; i++)
                fixture.Header[20 + i] = options[i];
            var input = MemoryMarshal.AsBytes(new Span<ReceiverAbi.ParseFixture>(ref fixture));
            Span<byte> output = stackalloc byte[input.Length];

            var verdict = _program!.TestRun(input, output, out var length);

            Assert.Equal(2u, verdict); // XDP_PASS: the program got its fixture
            Assert.Equal(input.Length, length);
            return MemoryMarshal.Read<ReceiverAbi.ParseFixture>(output).Result;
        }

        public void Dispose() => _object?.Dispose();
    }

    public static TheoryData<OptionLayout> Layouts => new(OptionLayouts.All);

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Parse_DefaultFormats_GivesTheExpectedVerdictAndClient(OptionLayout layout)
    {
        var result = Parse(layout.Bytes, ToaLayouts.Default);

        Assert.Equal((byte)layout.Verdict, result.Verdict);
        if (layout.Client is not null)
            Assert.Equal(layout.Client, ClientOf(result));
    }

    [Theory]
    [InlineData("fd 08 10e1 cb007107", ToaLayout.UCloud4)]
    [InlineData("1c 07 01 cb007107 00", ToaLayout.AlibabaCdn4)]
    [InlineData("1c 13 01 20010db8000000000000000000000007 00", ToaLayout.AlibabaCdn6)]
    public void Parse_LayoutEnabled_Found(string hex, ToaLayout expected)
    {
        var result = Parse(Convert.FromHexString(hex.Replace(" ", "")), ToaLayouts.All);

        Assert.Equal((byte)OptionVerdict.Found, result.Verdict);
        Assert.Equal((byte)expected, result.Layout);
    }

    [Fact]
    public void Parse_AlibabaWithVersion2_Malformed()
    {
        var result = Parse(Convert.FromHexString("1c0702cb00710700"), ToaLayouts.All);

        Assert.Equal((byte)OptionVerdict.Malformed, result.Verdict);
    }

    [Fact]
    public void Parse_OnlyDpvsEnabled_IgnoresTencent()
    {
        var result = Parse(Convert.FromHexString("c80810e1cb007107"), ToaLayouts.Dpvs4 | ToaLayouts.Dpvs6);

        Assert.Equal((byte)OptionVerdict.None, result.Verdict);
    }

    [Fact]
    public void Parse_HeaderShorterThanItsDataOffset_Malformed()
    {
        var result = Parse(Convert.FromHexString("c80810e1cb007107"), ToaLayouts.Default, cutTo: 24);

        Assert.Equal((byte)OptionVerdict.Malformed, result.Verdict);
    }

    /// <summary>Every options block of 4 bytes: never a client where the table says none, never a failure.</summary>
    [Fact]
    public void Parse_EveryFourByteBlockOfTheInterestingBytes_NeverFindsAClient()
    {
        byte[] interesting = [0, 1, 2, 4, 8, 20, 28, 200, 253, 254, 255];
        foreach (var a in interesting)
        foreach (var b in interesting)
        foreach (var c in interesting)
        foreach (var d in interesting)
            Assert.NotEqual((byte)OptionVerdict.Found, Parse([a, b, c, d], ToaLayouts.All).Verdict);
    }

    private ReceiverAbi.ParseResult Parse(byte[] options, ToaLayouts formats, int? cutTo = null) =>
        parser.Parse(options, formats, cutTo);

    private static unsafe IPEndPoint ClientOf(ReceiverAbi.ParseResult result)
    {
        var address = new IPAddress(new ReadOnlySpan<byte>(result.Client, 16));
        var port = (result.Port >> 8) | ((result.Port & 0xff) << 8);
        return new IPEndPoint(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address, port);
    }
}
