// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;

namespace Toa.Balancer;

/// <summary>
/// Puts the client's address on a backend connection as a TCP option. The relay calls
/// <see cref="Attach"/> with a socket that is created and bound (to the SNAT source, if any)
/// but not yet connected, then <see cref="ReportAsync"/> once the connection is established,
/// beside relaying, and disposes the socket only after the report completed.
/// Only listeners whose TOA is on are passed in. The option is built from the address the
/// balancer accepted, never from the client's own options, which end at the balancer's socket.
/// </summary>
public interface IToaWriter
{
    /// <summary>Arranges for <paramref name="client"/> to travel in the connection's TOA.</summary>
    /// <param name="backend">The backend socket, bound, not connected.</param>
    /// <param name="client">The real client, IPv4-mapped addresses already unwrapped.</param>
    /// <param name="toa">The listener's settings; <see cref="ToaSettings.Enabled"/> is true.</param>
    void Attach(Socket backend, IPEndPoint client, ToaSettings toa);

    /// <summary>
    /// After connect: whether the option was written (false when it did not fit or the writer is
    /// missing). It may complete later than connect: the handshake's last ACK can leave a moment
    /// after connect returned.
    /// </summary>
    ValueTask<bool> ReportAsync(Socket backend);
}

/// <summary>Writes nothing and says so: for running without the kernel-side writer.</summary>
public sealed class NoToaWriter : IToaWriter
{
    /// <summary>The one instance.</summary>
    public static NoToaWriter Instance { get; } = new();

    private NoToaWriter()
    {
    }

    /// <inheritdoc />
    public void Attach(Socket backend, IPEndPoint client, ToaSettings toa)
    {
    }

    /// <inheritdoc />
    public ValueTask<bool> ReportAsync(Socket backend) => ValueTask.FromResult(false);
}
