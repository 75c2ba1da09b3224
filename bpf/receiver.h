/* SPDX-License-Identifier: MIT */
/*
 * The receiver's kernel/user boundary: every struct and constant that crosses
 * to C# (src/Toa.Core/Sockets/ReceiverAbi.cs mirrors it; a test compares the mirror
 * with the BTF of the compiled object, structs and enums). Constants that cross are
 * enums, not #defines: BTF names enums, so the test sees their values too.
 */
#ifndef TOA_RECEIVER_H
#define TOA_RECEIVER_H

#include <linux/types.h>
#include "toa.h"

/* TOA layouts, in the order of Toa.Wire.ToaLayout; a set of them is 1 << layout. */
enum toa_layout {
	TOA_LAYOUT_TENCENT4     = 0, /* 200/8:  port, IPv4 */
	TOA_LAYOUT_TENCENT6     = 1, /* 253/20: port, IPv6 (NAT64) */
	TOA_LAYOUT_DPVS4        = 2, /* 254/8:  port, IPv4 */
	TOA_LAYOUT_DPVS6        = 3, /* 254/20: port, IPv6 */
	TOA_LAYOUT_ALIBABA_CDN4 = 4, /* 28/7:   version 1, IPv4, no port */
	TOA_LAYOUT_ALIBABA_CDN6 = 5, /* 28/19:  version 1, IPv6, no port */
	TOA_LAYOUT_UCLOUD4      = 6, /* 253/8:  port, IPv4 */
};

/* Sets of layouts, as Toa.Wire.ToaLayouts names them. */
enum toa_layouts {
	TOA_LAYOUTS_DEFAULT = (1 << TOA_LAYOUT_TENCENT4) | (1 << TOA_LAYOUT_TENCENT6) |
			      (1 << TOA_LAYOUT_DPVS4) | (1 << TOA_LAYOUT_DPVS6),
	TOA_LAYOUTS_ALL     = (1 << (TOA_LAYOUT_UCLOUD4 + 1)) - 1,
};

/* What the option parser concluded about one TCP header. */
enum toa_verdict {
	TOA_VERDICT_NONE      = 0, /* no honoured TOA */
	TOA_VERDICT_FOUND     = 1, /* exactly one honoured TOA, every option well formed */
	TOA_VERDICT_MALFORMED = 2, /* a broken option or a second TOA: nothing is used */
};

/* The parser's answer. IPv4 clients are kept as ::ffff:a.b.c.d. */
struct toa_parse_result {
	__u8 client[16];
	__be16 port;       /* 0 for layouts without a port */
	__u8 layout;       /* enum toa_layout, when verdict is FOUND */
	__u8 verdict;      /* enum toa_verdict */
};

/*
 * A TCP header as the parser reads it: copied from the packet, 4 bytes at a
 * time, into a per-CPU buffer (verifiers before 5.12 refuse variable offsets
 * into the stack). 64 bytes, so an index masked with 63 always stays inside.
 */
#define TOA_TCP_HEADER_MAX 60
struct toa_tcp_header {
	__u32 words[16];
};

/*
 * Where the option walk stands. Kept in memory, not registers: what a program
 * reads back from a map is unknown to the verifier, so every path through the
 * walk reaches the next round in the same state and is checked once, instead
 * of once per distinct offset and finding.
 */
struct toa_walk {
	__u32 next;    /* offset of the next option */
	__u32 toa;     /* offset of the TOA found, 0 while none */
	__u32 layout;  /* its enum toa_layout */
	__u32 pad;
};

/*
 * The per-CPU scratch space. A program parsing in process context (socket
 * backlog) can be interrupted by one parsing in softirq on the same CPU: each
 * takes a slot whose `busy` mark is clear, so they never share a buffer.
 */
#define TOA_SCRATCH_SLOTS 2
struct toa_scratch {
	__u32 busy[TOA_SCRATCH_SLOTS]; /* 1 while a program parses in the slot */
	struct toa_tcp_header slots[TOA_SCRATCH_SLOTS];
	struct toa_parse_result results[TOA_SCRATCH_SLOTS]; /* toa_parse_slot's, slot by slot */
	struct toa_walk walks[TOA_SCRATCH_SLOTS];
};

/*
 * The parser's test entry (BPF_PROG_TEST_RUN, XDP): the packet is this struct;
 * the program parses `header` (its data offset gives the length) with the
 * layouts in `formats` and writes the result over `result`.
 */
struct toa_parse_fixture {
	__u32 formats;
	__u32 header_len;  /* bytes of `header` that exist (the rest is past the packet) */
	struct toa_parse_result result;
	struct toa_tcp_header header;
};

/* Which packet carried the TOA a record holds (toa_record.source). */
enum toa_source {
	TOA_FROM_ACK  = 1, /* the ACK completing the handshake, as toa.ko reads it */
	TOA_FROM_SYN  = 2, /* the SYN, read while the SYN-ACK was built */
	TOA_FROM_DATA = 3, /* the first data segment */
};

/* toa_record.flags */
#define TOA_RECORD_NAT64_HELD (1 << 0) /* counted in ip6_address_alloc, not yet freed */

/*
 * What the receiver keeps for one connection that carried a TOA, as a server
 * reads it: getsockopt(fd, IPPROTO_IP, TOA_SO_GET_RECORD) answers it from
 * either home of a record (the connections map, else socket storage), and the
 * socket storage map (pinned, mode 0644) holds it as is, with the socket fd as
 * key. Addresses are 16 bytes, IPv4 as ::ffff:a.b.c.d.
 */
struct toa_record {
	__u8 client[16];    /* the real client */
	__u8 peer[16];      /* the connection's peer: the SNAT or load-balancer address */
	__u8 local[16];     /* the connection's local address */
	__u64 since_ns;     /* CLOCK_MONOTONIC when recorded (bpf_ktime_get_ns) */
	__be16 client_port; /* the peer's port for layouts without one */
	__be16 peer_port;
	__be16 local_port;
	__u8 layout;        /* enum toa_layout */
	__u8 source;        /* enum toa_source */
	__u8 flags;         /* TOA_RECORD_* */
	__u8 pad[7];
};

/* The answer to getsockopt(fd, IPPROTO_IP, TOA_SO_GET_LOOKUP, ...). 20 bytes. */
struct toa_nat64_peer {
	__u8 saddr[16];
	__be16 sport;
	__u8 pad[2];
};

/* The getsockopt(fd, IPPROTO_IP, ...) names the receiver answers. */
enum toa_sockopt {
	TOA_SO_GET_LOOKUP = 4096, /* TOA_BASE_CTL in toa.ko */
	TOA_SO_GET_RECORD = 4097, /* ours: the connection's struct toa_record (toa.ko stops at 4096) */
};

/*
 * A connection's record in the connections map (struct toa_flow_key is its
 * key): what the 4-tuple and namespace of the key do not say. 32 bytes, so a
 * map element (48 bytes of the kernel's, 40 of key, 8 of allocator) fills a
 * 128-byte slab object exactly.
 */
struct toa_conn {
	__u8 client[16];    /* as toa_record.client */
	__u64 since_ns;
	__be16 client_port;
	__u8 layout;        /* enum toa_layout */
	__u8 source;        /* enum toa_source */
	__u8 flags;         /* TOA_RECORD_* */
	__u8 pad[3];
};

/*
 * Per-CPU counters. The first seven are toa.ko's, with its meanings, in its
 * order; ours follow. `toa stats` prints them in this order.
 */
struct toa_stats {
	__u64 syn_recv_sock_toa;    /* connections whose handshake (SYN or ACK) carried a TOA */
	__u64 syn_recv_sock_no_toa; /* connections whose handshake did not */
	__u64 getname_toa_ok;       /* getpeername/accept or getsockopt answered with a TOA address */
	__u64 getname_toa_mismatch; /* getsockopt asked for an IPv6 client, the connection holds IPv4 */
	__u64 getname_toa_empty;    /* getsockopt on a connection holding no TOA */
	__u64 ip6_address_alloc;    /* records of an IPv6 client made */
	__u64 ip6_address_free;     /* records of an IPv6 client whose connection closed */
	__u64 toa_from_syn;         /* TOA taken from the SYN (the ACK had none) */
	__u64 toa_from_data;        /* TOA taken from the first data (the handshake had none) */
	__u64 toa_malformed;        /* packets whose options were broken or held two TOAs */
	__u64 toa_untrusted;        /* TOA ignored: the peer is outside the trust list */
	__u64 getname_toa_bypass;   /* getpeername of a NAT64 connection that keeps the SNAT address */
	__u64 toa_foreign_netns;    /* TOA ignored: the socket's network namespace is not one honoured */
	__u64 toa_parse_busy;       /* packets left unparsed: this CPU's parse buffers were all in use */
	__u64 toa_parked_evicted;   /* parked SYN TOAs dropped for newer ones: the parked map was full */
	__u64 toa_conns_full;       /* records kept in socket storage: the connections map was full */
};

/* getpeername() on AF_INET6 sockets for connections holding an IPv6 client. */
enum toa_nat64_peer_mode {
	TOA_NAT64_PEER_REAL = 0, /* the real IPv6 client (no code change needed) */
	TOA_NAT64_PEER_SNAT = 1, /* the SNAT address, as toa.ko on AF_INET sockets */
};

/*
 * Load-time settings: the only read-only global (.rodata), so the pinned
 * .rodata map is this struct and `toa status` reads it back.
 */
struct toa_receiver_config {
	__u32 formats;       /* set of enum toa_layout honoured */
	__u32 nat64_peer;    /* enum toa_nat64_peer_mode */
	__u32 trust_enabled; /* 1: only peers in the trust map are believed */
	__u32 set_retval;    /* 1: the kernel lets getsockopt programs return an errno (5.18+) */
	__u32 netns_scoped;  /* 1: only sockets in the network namespaces of the netns map honour a TOA */
	__u32 conns;         /* 1: records go to the connections map first (the kernel has bpf_get_netns_cookie, 5.15) */
};

/* Trust map key (LPM trie): IPv4 networks as ::ffff:0:0/96 + prefix. */
struct toa_trust_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/*
 * A connection by 4-tuple: the key of a SYN-borne TOA waiting for its
 * handshake ACK (parked map) and of a connection's record (connections map).
 */
struct toa_flow_key {
	__u8 local[16];
	__u8 remote[16];
	__u16 local_port;  /* host order, as bpf_sock_ops gives it */
	__u16 remote_port; /* network order */
	__u32 netns;       /* connections map: the low half of the socket's network namespace cookie; parked: 0 */
};

struct toa_parked {
	struct toa_parse_result result;
	__u32 syn_seq; /* host order: the handshake ACK's sequence is syn_seq + 1 */
	__u32 pad;
};

/* What the receiver made of a packet, in a trace event. */
enum toa_trace_outcome {
	TOA_TRACE_TAKEN        = 1, /* the connection's client from now on */
	TOA_TRACE_PARKED       = 2, /* a SYN's TOA, kept until the handshake completes */
	TOA_TRACE_ABSENT       = 3, /* no TOA (after the handshake ACK: waiting for the first data) */
	TOA_TRACE_MALFORMED    = 4, /* a broken option or a second TOA: nothing used */
	TOA_TRACE_UNTRUSTED    = 5, /* a TOA from a peer outside the trust list: ignored */
	TOA_TRACE_UNHONOURED   = 6, /* a TOA in a layout the receiver was not loaded to honour */
	TOA_TRACE_FOREIGN_NETNS = 7, /* a TOA to a socket in a network namespace not honoured: ignored */
};

/*
 * One trace event (ring buffer record): a packet of a connection the receiver
 * examined and what it concluded. `toa` holds the option read when the outcome
 * has one (TAKEN, PARKED, UNTRUSTED, UNHONOURED), else zeros.
 */
struct toa_trace_event {
	__u64 time_ns;      /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u8 local[16];
	__u8 remote[16];    /* the connection's peer: the SNAT or load-balancer address */
	__be16 local_port;
	__be16 remote_port;
	__u8 packet;        /* enum toa_source: the packet the event is about */
	__u8 outcome;       /* enum toa_trace_outcome */
	__u8 pad[2];
	struct toa_parse_result toa;
};

/*
 * The run-time switch (global data of its own section, pinned, so it outlives
 * the command that flips it). Off, the data path checks `enabled` and nothing more.
 */
struct toa_trace_state {
	__u32 enabled; /* 1: events go to the ring buffer */
	__u32 pad;
	__u64 lost;    /* events dropped because the ring buffer was full */
};

/*
 * Every enum the C# mirror holds. BTF describes only the types the object uses,
 * and the structs above keep these in bytes or words: toa_abi_enums (receiver.bpf.c),
 * which no program calls, takes this struct so that BTF names each of them.
 */
struct toa_abi_enums {
	enum toa_layout layout;
	enum toa_layouts layouts;
	enum toa_verdict verdict;
	enum toa_source source;
	enum toa_nat64_peer_mode nat64_peer;
	enum toa_trace_outcome trace_outcome;
	enum toa_sockopt sockopt;
};

#ifndef TOA_TRACE
#define TOA_TRACE 1 /* 0 compiles the trace out (the benchmark's baseline) */
#endif
#ifndef TOA_TRACE_BUFFER
/*
 * Bytes of trace events waiting for a reader: about 800 (80 bytes each), read every 250 ms or
 * once 64 wait. Allocated at load, tracing on or off, so small.
 */
#define TOA_TRACE_BUFFER (1 << 16)
#endif
#ifndef TOA_TRACE_BATCH
#define TOA_TRACE_BATCH 64 /* events waiting before the reader is woken (it also reads every 250 ms) */
#endif
#ifndef TOA_PARKED_MAX
/*
 * SYN-borne TOAs waiting for a handshake to finish. An LRU map is allocated in full at load (about
 * 136 B an entry): an entry lives one round trip, so 4096 carry 40,000 parked SYNs per second at 100 ms.
 */
#define TOA_PARKED_MAX 4096
#endif
#ifndef TOA_CONNS_MAX
/*
 * Connections whose records the connections map holds (toa load --connections sets it). Its
 * buckets are allocated at load, 16 bytes each, a power of two of them; records beyond it go to
 * socket storage, which costs about 370 bytes a connection instead of 128.
 */
#define TOA_CONNS_MAX 16384
#endif
#ifndef TOA_TRUST_MAX
#define TOA_TRUST_MAX 1024   /* networks in the trust list */
#endif
#ifndef TOA_NETNS_MAX
#define TOA_NETNS_MAX 256    /* network namespaces honoured (netns map: inode number -> 1) */
#endif

#endif
