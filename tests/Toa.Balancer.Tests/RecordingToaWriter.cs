// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;

namespace Toa.Balancer.Tests;

/// <summary>
/// Records what the relay asked of the TOA writer; counts every attach as written or as failed.
/// With <c>cannotStart</c>, <see cref="Prepare"/> throws it, as a writer without root would.
/// </summary>
internal sealed class RecordingToaWriter(bool written = true, Exception? cannotStart = null) : IToaWriter
{
    public List<(IPEndPoint Client, ToaSettings Toa, string Listener, bool Bound, bool Connected)> Attached { get; } = [];

    /// <summary>Calls of <see cref="Prepare"/>, and the attaches made before the first.</summary>
    public (int Calls, int AttachedBefore) Prepared { get; private set; }

    /// <summary>The connections the last <see cref="Prepare"/> was given.</summary>
    public int Connections { get; private set; }

    public void Prepare(int connections)
    {
        if (cannotStart is not null)
            throw cannotStart;
        lock (Attached)
        {
            Prepared = (Prepared.Calls + 1, Prepared.Calls == 0 ? Attached.Count : Prepared.AttachedBefore);
            Connections = connections;
        }
    }

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
