// SPDX-License-Identifier: MIT
using System.Net;
using Toa.Balancer.Model;

namespace Toa.Balancer.Tests;

/// <summary>Backends and candidate sets for scheduling and health tests.</summary>
internal static class TestBackends
{
    /// <summary>Backend <paramref name="i"/> of a made-up pool: 10.0.{i/256}.{i%256}:80.</summary>
    public static Backend Make(int i, int weight = 1, int maxConnections = 0) =>
        new("test", new IPEndPoint(new IPAddress([10, 0, (byte)(i / 256), (byte)(i % 256)]), 80), weight, maxConnections);

    public static BackendSet Set(params int[] weights) => new(weights.Select((w, i) => Make(i, w)));

    /// <summary>Client <paramref name="i"/>: spread over IPv4 space the way real clients are.</summary>
    public static IPEndPoint Client(int i)
    {
        var scrambled = (uint)i * 2654435761u;
        return new IPEndPoint(new IPAddress(BitConverter.GetBytes(scrambled)), 40000 + i % 1000);
    }
}
