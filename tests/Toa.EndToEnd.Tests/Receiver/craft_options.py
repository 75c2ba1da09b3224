#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Opens one TCP connection per options block with hand-made packets (scapy).

usage: craft_options.py IFACE SRC_IP SRC_MAC DST_IP DST_MAC DST_PORT < cases
Each line of stdin is "SOURCE_PORT HEX": the handshake ACK carries HEX as its
options, then one data segment and a FIN follow. SRC_IP must not
belong to this host (so its kernel does not reset the connection); the server
reaches SRC_MAC through a static neighbour entry. Prints "ok PORT" or
"failed PORT reason" per line.
"""
import sys
import logging

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, TCP, Raw, conf, srp1  # noqa: E402

iface, src_ip, src_mac, dst_ip, dst_mac, dst_port = sys.argv[1:7]
dst_port = int(dst_port)
conf.verb = 0
sock = conf.L2socket(iface=iface)

def frame(sport, flags, seq, ack, options=b"", payload=b""):
    tcp = TCP(sport=sport, dport=dst_port, flags=flags, seq=seq, ack=ack, window=65535,
              dataofs=(20 + len(options)) // 4)
    return Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip) / tcp / Raw(options + payload)

for line in sys.stdin:
    port_text, hex_text = line.split()
    sport = int(port_text)
    options = bytes.fromhex(hex_text)
    syn = Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip) / TCP(sport=sport, dport=dst_port, flags="S", seq=1000)
    answer = srp1(syn, iface=iface, timeout=5, filter=f"tcp and src port {dst_port} and dst port {sport}")
    if answer is None or answer[TCP].flags != "SA":
        print(f"failed {sport} no SYN-ACK", flush=True)
        continue
    server_seq = answer[TCP].seq + 1
    sock.send(frame(sport, "A", 1001, server_seq, options))
    sock.send(frame(sport, "PA", 1001, server_seq, payload=b"hello\n"))
    sock.send(frame(sport, "FA", 1007, server_seq))
    print(f"ok {sport}", flush=True)
