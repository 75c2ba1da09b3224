// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;

namespace Toa.Balancer.Tests;

/// <summary>Records what the relay asked of the TOA writer; counts every attach as written or as failed.</summary>
internal sealed class RecordingToaWriter(bool written = true) : IToaWriter
{
    public List<(IPEndPoint Client, ToaSettings Toa, string Listener, bool Bound, bool Connected)> Attached { get; } = [];

    public void Attach(Socket backend, IPEndPoint client, ToaSettings toa, string listener)
    {
        backend.NoDelay = true;
        lock (Attached)
            Attached.Add((client, toa, listener, backend.LocalEndPoint is not null, backend.Connected));
    }

    public IReadOnlyDictionary<string, ToaCounts> Counts()
    {
        lock (Attached)
            return Attached.GroupBy(a => a.Listener).ToDictionary(g => g.Key, g => written ? new ToaCounts(g.Count(), 0) : new ToaCounts(0, g.Count()));
    }
}
