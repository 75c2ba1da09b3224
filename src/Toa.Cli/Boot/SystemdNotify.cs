// SPDX-License-Identifier: MIT
using System.Net.Sockets;

namespace Toa.Cli.Boot;

/// <summary>
/// sd_notify(3)'s readiness message, for a service of Type=notify: systemd names a datagram socket in
/// NOTIFY_SOCKET (a path, or an abstract name after '@') and holds back units ordered after this one
/// until READY=1 arrives there. Nothing happens when started any other way.
/// </summary>
internal static class SystemdNotify
{
    /// <summary>Tells systemd the service is ready; false when not started by systemd with a notify socket.</summary>
    public static bool Ready()
    {
        var name = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(name))
            return false;
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.SendTo("READY=1"u8, new UnixDomainSocketEndPoint(name[0] == '@' ? "\0" + name[1..] : name));
        return true;
    }
}
