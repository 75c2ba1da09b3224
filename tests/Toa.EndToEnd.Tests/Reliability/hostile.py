#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Plays hand-made TCP exchanges (scapy), one per line of stdin, for the hostile corpus.

usage: hostile.py IFACE SRC_MAC DST_IP DST_MAC DST_PORT
Each line: "SRC_IP SOURCE_PORT ISN STEP;STEP;...". A step is a letter, a colon
and the options' hex (empty for none):
  S  the SYN; waits for the SYN-ACK        s  the same SYN again (a retransmission)
  A  the handshake ACK                      B  an ACK acknowledging the wrong sequence
  D  a data segment ("hello\\n")            O  a data segment 100 bytes ahead (out of order)
  N  a pure ACK (a later segment)           F  a FIN, then waits for the server's FIN and ACKs it
  R  a RST                                  P  prints "paused PORT" and waits for a line on stdin
Options are padded with end-of-list to a multiple of 4. Prints "ok PORT" or
"failed PORT reason" per line. SRC_IP must not belong to this host (so its
kernel does not reset the connection); the server reaches SRC_MAC through a
static neighbour entry.
"""
import select
import sys
import time
import logging

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, TCP, Raw, conf  # noqa: E402

iface, src_mac, dst_ip, dst_mac, dst_port = sys.argv[1:6]
dst_port = int(dst_port)
conf.verb = 0
out = conf.L2socket(iface=iface)
PAYLOAD = b"hello\n"


def frame(src_ip, sport, flags, seq, ack, options=b"", payload=b""):
    options += b"\0" * (-len(options) % 4)
    tcp = TCP(sport=sport, dport=dst_port, flags=flags, seq=seq, ack=ack, window=65535,
              dataofs=(20 + len(options)) // 4)
    return Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip) / tcp / Raw(options + payload)


def await_segment(listen, want, timeout=20.0):
    """The first segment from the server for which want(tcp) holds within timeout seconds, or None."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([listen], [], [], left)
        if not ready:
            return None
        packet = listen.recv()
        if packet is not None and TCP in packet and want(packet[TCP]):
            return packet[TCP]
    return None


def play(src_ip, sport, isn, steps):
    listen = conf.L2listen(iface=iface, filter=f"tcp and src host {dst_ip} and src port {dst_port} and dst port {sport}")
    try:
        seq, server = isn + 1, None
        for step in steps:
            kind, _, hex_text = step.partition(":")
            options = bytes.fromhex(hex_text)
            if kind in "Ss":
                out.send(frame(src_ip, sport, "S", isn, 0, options))
                answer = await_segment(listen, lambda t: t.flags & 0x12 == 0x12)
                if answer is None:
                    return "no SYN-ACK"
                server = answer.seq + 1
            elif kind == "A":
                out.send(frame(src_ip, sport, "A", seq, server, options))
            elif kind == "B":
                out.send(frame(src_ip, sport, "A", seq, server + 1000, options))
            elif kind == "N":
                out.send(frame(src_ip, sport, "A", seq, server, options))
            elif kind == "D":
                out.send(frame(src_ip, sport, "PA", seq, server, options, PAYLOAD))
                seq += len(PAYLOAD)
            elif kind == "O":
                out.send(frame(src_ip, sport, "PA", seq + 100, server, options, PAYLOAD))
            elif kind == "R":
                out.send(frame(src_ip, sport, "R", seq, 0, options))
            elif kind == "F":
                out.send(frame(src_ip, sport, "FA", seq, server, options))
                seq += 1
                fin = await_segment(listen, lambda t: t.flags & 0x01)
                if fin is None:
                    return "no FIN from the server"
                out.send(frame(src_ip, sport, "A", seq, fin.seq + len(fin.payload) + 1))
            elif kind == "P":
                print(f"paused {sport}", flush=True)
                sys.stdin.readline()
            else:
                return f"unknown step {step}"
        return None
    finally:
        listen.close()


for line in sys.stdin:
    if not line.strip():
        continue
    src_ip, port_text, isn_text, steps_text = line.split()
    failure = play(src_ip, int(port_text), int(isn_text), steps_text.split(";"))
    print(f"failed {port_text} {failure}" if failure else f"ok {port_text}", flush=True)
