// SPDX-License-Identifier: MIT
using Toa.Lab;
using Toa.Testing;

namespace Toa.EndToEnd.Tests;

/// <summary>
/// Tests that need a client host and a server host joined by one link, made afresh for each test
/// and removed after it. Needs root, BPF, cgroup v2.
/// </summary>
public abstract class TwoHostTests : IDisposable
{
    /// <summary>Builds the hosts; <paramref name="name"/> prefixes the namespaces' names.</summary>
    protected TwoHostTests(string name)
    {
        KernelTest.Require();
        Lab = Network.Create(name);
        Client = Lab.AddHost("c");
        Server = Lab.AddHost("s");
        Link = Lab.Connect(Client, Server);
    }

    /// <summary>The network that owns both hosts.</summary>
    protected Network Lab { get; }

    /// <summary>The host that connects.</summary>
    protected Host Client { get; }

    /// <summary>The host that listens.</summary>
    protected Host Server { get; }

    /// <summary>The link between them: A is the client's end, B the server's.</summary>
    protected Link Link { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Lab.Dispose();
        GC.SuppressFinalize(this);
    }
}
