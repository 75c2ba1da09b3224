// SPDX-License-Identifier: MIT
using System.Text.Json;
using System.Text.RegularExpressions;
using Toa.EndToEnd.Tests.Receiver;
using Toa.Lab;
using Toa.Receiver;
using Toa.Sockets;
using Toa.Testing;

namespace Toa.EndToEnd.Tests.AspNetCore;

/// <summary>
/// The ASP.NET Core sample (one line: UseToa) on a server host with the receiver, HTTP
/// requests sent by <c>toa connect</c> from a client host: what the requests see.
/// </summary>
public sealed partial class WhoAmITests
{
    private const int Ipv4Only = 8080;
    private const int DualMode = 8081;
    private const string TwoRequests =
        "GET /whoami HTTP/1.1\r\nHost: s\r\n\r\nGET /whoami HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n";

    private static Task<LabProcess> StartWhoAmIAsync(ReceiverLab lab) =>
        WhoAmISample.StartAsync(lab.Server, lab.Cgroup, lab.PinDirectory, $"http://0.0.0.0:{Ipv4Only};http://[::]:{DualMode}");

    private static IReadOnlyList<JsonElement> Answers(string httpResponses) =>
        JsonBody().Matches(httpResponses).Select(m => JsonDocument.Parse(m.Value).RootElement).ToArray();

    [GeneratedRegex(@"\{[^{}]*\}")]
    private static partial Regex JsonBody();

    private static void AssertClient(JsonElement answer, string address, int port, string learnedBy)
    {
        Assert.Equal(address, answer.GetProperty("address").GetString());
        Assert.Equal(port, answer.GetProperty("port").GetInt32());
        Assert.Equal(learnedBy, answer.GetProperty("learnedBy").GetString());
    }

    [Theory]
    [InlineData(Ipv4Only, "203.0.113.7")]
    [InlineData(DualMode, "::ffff:203.0.113.7")]
    public async Task Kind200_EveryKeepAliveRequestSeesIpv4Client(int port, string expected)
    {
        using var lab = new ReceiverLab();
        await using var server = await StartWhoAmIAsync(lab);

        var result = await lab.ConnectAsync(port, TwoRequests, "--keep-open", "--as", "203.0.113.7:4321");

        Assert.Equal(0, result.ExitCode);
        var answers = Answers(result.StandardOutput);
        Assert.True(answers.Count == 2, $"two answers expected; toa connect exited {result.ExitCode} and printed:\n{result.StandardOutput}\n{result.StandardError}");
        Assert.All(answers, a => AssertClient(a, expected, 4321, "ReceiverRecord"));
    }

    [Theory]
    [InlineData(Ipv4Only)]
    [InlineData(DualMode)]
    public async Task Kind253_EveryKeepAliveRequestSeesIpv6Client(int port)
    {
        using var lab = new ReceiverLab();
        await using var server = await StartWhoAmIAsync(lab);

        var result = await lab.ConnectAsync(port, TwoRequests, "--keep-open", "--as", "[2001:db8::7]:2222");

        var answers = Answers(result.StandardOutput);
        Assert.True(answers.Count == 2, $"two answers expected; toa connect exited {result.ExitCode} and printed:\n{result.StandardOutput}\n{result.StandardError}");
        Assert.All(answers, a => AssertClient(a, "2001:db8::7", 2222, "ReceiverRecord"));
        var peer = port == DualMode ? $"[::ffff:{lab.Link.A.Ipv4}]:" : $"{lab.Link.A.Ipv4}:";
        Assert.All(answers, a => Assert.StartsWith(peer, a.GetProperty("snatPeer").GetString()));
    }

    [Fact]
    public async Task DataBorneToa_BothKeepAliveRequestsSeeClientAndWirePeerStaysKnown()
    {
        using var lab = new ReceiverLab();
        await using var server = await WhoAmISample.StartAsync(lab.Server, lab.Cgroup, lab.PinDirectory,
            $"http://[::]:{DualMode}", "--Logging:LogLevel:Toa.AspNetCore=Debug");
        var connect = ToaCli.Command("connect", $"{lab.ServerAddress()}:{DualMode}", "--keep-open", "--in", "data", "--as", "[2001:db8::7]:2222");
        await using var client = lab.Client.Start(connect[0], connect.Skip(1));

        // The requests (and with them the TOA) leave only once the server has handled the connection's opening.
        await server.WaitForLineAsync(l => l.StartsWith("dbug: Toa.AspNetCore.", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        await client.StandardInput.WriteAsync(TwoRequests);
        client.StandardInput.Close();
        var result = await client.WaitAsync(TimeSpan.FromSeconds(60));

        var answers = Answers(result.StandardOutput);
        Assert.True(answers.Count == 2, $"two answers expected; toa connect exited {result.ExitCode} and printed:\n{result.StandardOutput}\n{result.StandardError}");
        Assert.All(answers, a => AssertClient(a, "2001:db8::7", 2222, "ReceiverRecord"));
        Assert.All(answers, a => Assert.StartsWith($"[::ffff:{lab.Link.A.Ipv4}]:", a.GetProperty("snatPeer").GetString()));
    }

    [Fact]
    public async Task ReceiverRestartedUnderRunningServer_NewNat64ConnectionsResolveAgain()
    {
        using var lab = new ReceiverLab();
        await using var server = await StartWhoAmIAsync(lab);
        var before = await lab.ConnectAsync(Ipv4Only, TwoRequests, "--keep-open", "--as", "[2001:db8::7]:2222");

        // What restarting the receiver's service does; the server keeps running.
        ToaReceiver.Unload(lab.PinDirectory);
        ToaReceiver.Load(lab.Options, force: false);
        // A server looks at the pin again at most once per interval, after a lookup found nothing.
        await Task.Delay(SystemSocketCalls.RecheckInterval);
        var after = await lab.ConnectAsync(Ipv4Only, TwoRequests, "--keep-open", "--as", "[2001:db8::8]:3333");

        foreach (var (result, client, port) in new[] { (before, "2001:db8::7", 2222), (after, "2001:db8::8", 3333) })
        {
            var answers = Answers(result.StandardOutput);
            Assert.True(answers.Count == 2, $"two answers expected; toa connect exited {result.ExitCode} and printed:\n{result.StandardOutput}\n{result.StandardError}");
            Assert.All(answers, a => AssertClient(a, client, port, "ReceiverRecord"));
            Assert.All(answers, a => Assert.StartsWith($"{lab.Link.A.Ipv4}:", a.GetProperty("snatPeer").GetString()));
        }
    }

    [Fact]
    public async Task NoToa_SeesTruePeer()
    {
        using var lab = new ReceiverLab();
        await using var server = await StartWhoAmIAsync(lab);

        var result = await lab.Client.RunAsync("curl", ["-s", $"http://{lab.ServerAddress()}:{Ipv4Only}/whoami"]);

        var answer = Assert.Single(Answers(result.StandardOutput));
        Assert.Equal(lab.Link.A.Ipv4.ToString(), answer.GetProperty("address").GetString());
    }

    [Fact]
    public async Task ReceiverUnloaded_TruePeerAndNoError()
    {
        using var lab = new ReceiverLab(load: false);
        await using var server = await StartWhoAmIAsync(lab);

        var result = await lab.ConnectAsync(Ipv4Only, TwoRequests, "--keep-open", "--as", "[2001:db8::7]:2222");

        var answers = Answers(result.StandardOutput);
        Assert.True(answers.Count == 2, $"two answers expected; toa connect exited {result.ExitCode} and printed:\n{result.StandardOutput}\n{result.StandardError}");
        Assert.All(answers, a => Assert.Equal(lab.Link.A.Ipv4.ToString(), a.GetProperty("address").GetString()));
        Assert.All(answers, a => Assert.Equal("None", a.GetProperty("learnedBy").GetString()));
        Assert.DoesNotContain(server.Error, l => l.Contains("fail", StringComparison.OrdinalIgnoreCase));
    }
}
