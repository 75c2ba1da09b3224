// SPDX-License-Identifier: MIT
namespace Toa.Balancer.Packet;

/// <summary>
/// The packet engine cannot run here, or cannot run the listeners it was given; the message says
/// why in the operator's terms (what is missing, which listener, which value) and nothing changed.
/// </summary>
public sealed class PacketEngineException(string message, Exception? inner = null) : InvalidOperationException(message, inner);
