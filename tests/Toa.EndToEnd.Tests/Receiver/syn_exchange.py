#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hand-made handshakes (scapy) whose SYN matters: parked SYNs and TCP Fast Open.

usage: syn_exchange.py park|tfo IFACE SRC_MAC DST_IP DST_MAC DST_PORT < cases

park: each line is "SRC_IP SOURCE_PORT COUNT HEX": a SYN carrying HEX as its
  options is sent COUNT times (the same sequence number: retransmissions), each
  answered by a SYN-ACK; then a RST ends the half-open connection, so no
  handshake completes and the server builds no more SYN-ACKs.
tfo: each line is "SRC_IP SOURCE_PORT SYN_HEX ACK_HEX DATA_HEX" ("-" for no
  options): a SYN with data (TCP Fast Open: the server needs no cookie), the
  ACK completing the handshake, a second data segment; the connection stays
  open (no FIN), so the server still holds it.

SRC_IP must not belong to any host (so no kernel resets the connections); the
server reaches SRC_MAC through a static neighbour entry. Prints "ok PORT" or
"failed PORT reason" per line.
"""
import sys
import logging

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, TCP, Raw, conf, srp1  # noqa: E402

mode, iface, src_mac, dst_ip, dst_mac, dst_port = sys.argv[1:7]
dst_port = int(dst_port)
conf.verb = 0
sock = conf.L2socket(iface=iface)


def frame(src_ip, sport, flags, seq, ack, options=b"", payload=b""):
    tcp = TCP(sport=sport, dport=dst_port, flags=flags, seq=seq, ack=ack, window=65535,
              dataofs=(20 + len(options)) // 4)
    return Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip) / tcp / Raw(options + payload)


def options_of(text):
    return b"" if text == "-" else bytes.fromhex(text)


def syn_ack(packet, sport):
    answer = srp1(packet, iface=iface, timeout=5, filter=f"tcp and src port {dst_port} and dst port {sport}")
    return answer if answer is not None and answer[TCP].flags == "SA" else None


for line in sys.stdin:
    fields = line.split()
    src_ip, sport = fields[0], int(fields[1])
    if mode == "park":
        count, options = int(fields[2]), options_of(fields[3])
        answers = [syn_ack(frame(src_ip, sport, "S", 1000, 0, options), sport) for _ in range(count)]
        if None in answers:
            print(f"failed {sport} no SYN-ACK", flush=True)
            continue
        sock.send(frame(src_ip, sport, "R", 1001, 0))
    else:
        syn, ack, data = (options_of(f) for f in fields[2:5])
        first, second = b"hello\n", b"again\n"
        answer = syn_ack(frame(src_ip, sport, "S", 1000, 0, syn, first), sport)
        if answer is None:
            print(f"failed {sport} no SYN-ACK", flush=True)
            continue
        if answer[TCP].ack != 1001 + len(first):
            print(f"failed {sport} the SYN's data was not accepted (no Fast Open)", flush=True)
            continue
        server_seq = answer[TCP].seq + 1
        seq = 1001 + len(first)
        sock.send(frame(src_ip, sport, "A", seq, server_seq, ack))
        sock.send(frame(src_ip, sport, "PA", seq, server_seq, data, second))
    print(f"ok {sport}", flush=True)
