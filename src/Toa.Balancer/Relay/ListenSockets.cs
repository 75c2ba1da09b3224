// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;

namespace Toa.Balancer.Relay;

/// <summary>Listening sockets for the relay and the admin endpoint.</summary>
internal static class ListenSockets
{
    private const int SolSocket = 1;   // Linux's SOL_SOCKET
    private const int SoReuseAddr = 2; // Linux's SO_REUSEADDR

    /// <summary>
    /// A relay listener's socket, non-blocking: accepting on a loop must never block it (another
    /// loop may take the client first). Clients wait in its backlog while a reload hands it on.
    /// </summary>
    public static Socket ListenForRelay(IPEndPoint endPoint)
    {
        var socket = Listen(endPoint, backlog: 1024);
        socket.Blocking = false;
        return socket;
    }

    /// <summary>
    /// Binds and listens. On Linux SO_REUSEADDR alone is set, so that a restarted balancer can
    /// bind while old connections sit in TIME_WAIT. The runtime's ReuseAddress option would also
    /// set SO_REUSEPORT, letting a second balancer bind the same port and silently share clients.
    /// </summary>
    public static Socket Listen(IPEndPoint endPoint, int backlog)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false; // the client's family picks the TOA layout: keep families apart
            if (OperatingSystem.IsLinux())
                socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
            socket.Bind(endPoint);
            socket.Listen(backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
