// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Toa.Testing;

/// <summary>
/// HAProxy 2.6 (Debian's haproxy, installed by scripts/prerequisites.sh) as an independent PROXY
/// protocol peer: <c>send-proxy-v2</c> toward our server, <c>accept-proxy</c> in front of our balancer.
/// A configuration lives in a directory of its own, removed on dispose with the process.
/// </summary>
public sealed class HaProxy : IDisposable
{
    /// <summary>The sections before the caller's: logs to stdout, TCP timeouts.</summary>
    private const string Preamble = """
        global
            log stdout format raw local0
        defaults
            log global
            timeout connect 5s
            timeout client 30s
            timeout server 30s

        """;

    private readonly DirectoryInfo _directory;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();
    private Process? _process;

    private HaProxy(string sections)
    {
        _directory = Directory.CreateTempSubdirectory("toa-haproxy-test-");
        ConfigPath = Path.Combine(_directory.FullName, "haproxy.cfg");
        File.WriteAllText(ConfigPath, Preamble + "\n" + sections + "\n");
    }

    private const string BinaryPath = "/usr/sbin/haproxy";

    /// <summary>The binary; skips (or fails where every test must run) when HAProxy is not installed.</summary>
    public static string Binary => ToolTest.Require(BinaryPath, "haproxy");

    /// <summary>Whether HAProxy is installed, for fixtures, which cannot skip.</summary>
    public static bool IsInstalled => File.Exists(BinaryPath);

    /// <summary>Where the configuration is.</summary>
    public string ConfigPath { get; }

    /// <summary>What it logged so far (stdout and stderr): one line per connection, and its errors.</summary>
    public IReadOnlyList<string> Output => [.. _output];

    private void Collect(string? line)
    {
        if (line is not null)
            _output.Enqueue(line);
    }

    /// <summary>The arguments that run it in the foreground on <see cref="ConfigPath"/>.</summary>
    public IReadOnlyList<string> Arguments => ["-db", "-f", ConfigPath];

    /// <summary>Writes a configuration of <paramref name="sections"/> (frontends, backends, listens) without starting it.</summary>
    public static HaProxy Configure(string sections)
    {
        _ = Binary;
        return new HaProxy(sections);
    }

    /// <summary>Starts HAProxy in this network namespace and waits until <paramref name="listening"/> accepts.</summary>
    public static async Task<HaProxy> StartAsync(string sections, IPEndPoint listening)
    {
        var haproxy = Configure(sections);
        try
        {
            haproxy._process = Process.Start(new ProcessStartInfo(Binary, haproxy.Arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            haproxy._process.OutputDataReceived += (_, e) => haproxy.Collect(e.Data);
            haproxy._process.ErrorDataReceived += (_, e) => haproxy.Collect(e.Data);
            haproxy._process.BeginOutputReadLine();
            haproxy._process.BeginErrorReadLine();
            await WaitListeningAsync(listening, haproxy);
            return haproxy;
        }
        catch
        {
            haproxy.Dispose();
            throw;
        }
    }

    /// <summary>A loopback port nothing listens on at the moment (the race is the test's to lose).</summary>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static async Task WaitListeningAsync(IPEndPoint endPoint, HaProxy haproxy)
    {
        var process = haproxy._process!;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (process.HasExited)
            {
                process.WaitForExit(); // the output's last lines
                throw new InvalidOperationException($"haproxy exited with {process.ExitCode} before listening on {endPoint}:\n"
                    + string.Join('\n', haproxy.Output) + "\n" + File.ReadAllText(haproxy.ConfigPath));
            }
            using var probe = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(endPoint);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process?.Dispose();
        _directory.Delete(recursive: true);
    }
}
