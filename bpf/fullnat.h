/* SPDX-License-Identifier: MIT */
/*
 * The packet engine's kernel/user boundary: a FULLNAT balancer on tc ingress.
 * A client's connection to a listener (a VIP: a local address and port of the
 * balancer host) is rewritten toward a backend, from a SNAT address and a local
 * port the engine owns, and the backend's replies are rewritten back; no socket
 * is involved. The C# side mirrors this file (PacketAbi.cs); a test compares the
 * mirror with the BTF of the compiled object.
 *
 * Addresses are in network order, IPv4 in addr[0] with the rest zero. Ports are
 * in network order in flows, as on the wire.
 */
#ifndef TOA_FULLNAT_H
#define TOA_FULLNAT_H

#include <linux/types.h>
#include "toa.h"

#define FN_MAX_LISTENERS 64
#define FN_MAX_BACKENDS  4096
/* Maglev table slots per region (a prime); a listener's table is one region. */
#define FN_TABLE_SIZE    16381
/* Regions in fn_tables: a reload writes a listener's new table into a free region, then points the VIP at it. */
#define FN_TABLE_REGIONS 32
/* Tries to find a free local port for a new connection before it is refused (counted as FN_CNT_NO_PORT). */
#define FN_PORT_TRIES    8
/* How long an ended connection keeps its local port after its last packet (1 s: its last ACK is past). */
#define FN_REUSE_NS      1000000000ULL

/* What a listener writes toward its backends (fn_vip.toa). */
enum fn_toa_format {
	FN_TOA_NONE    = 0,
	FN_TOA_TENCENT = 1, /* 200/8 for an IPv4 client, 253/20 for an IPv6 one */
	FN_TOA_DPVS    = 2, /* 254/8 and 254/20 */
};

/* A flow as it appears on the wire, the key of fn_flows. */
struct fn_flow {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
	__u8 family;        /* AF_INET or AF_INET6 */
	__u8 pad[3];
};

/* fn_vips's key: a listener's address and port. */
struct fn_vip_key {
	__u32 addr[4];
	__u16 port;         /* network order */
	__u8 family;
	__u8 pad;
};

/* fn_vip.flags */
#define FN_VIP_NAT64 (1 << 0) /* an IPv6 listener whose backends are IPv4 */

/* A listener, as the datapath needs it. */
struct fn_vip {
	__u32 id;           /* below FN_MAX_LISTENERS: its counters' index */
	__u32 region;       /* below FN_TABLE_REGIONS: its Maglev table */
	__u32 backends;     /* eligible backends in the table; 0 refuses new connections (counted) */
	__u16 mss;          /* the MSS announced to the client is clamped to this (host order); 0 leaves it */
	__u8 toa;           /* enum fn_toa_format */
	__u8 flags;         /* FN_VIP_* */
};

/* A backend (fn_backends, indexed by what the tables hold). */
struct fn_backend {
	__u32 addr[4];
	__u32 snat[4];      /* the source the engine rewrites a client to, toward this backend */
	__u16 port;         /* network order */
	__u8 family;
	__u8 pad;
	__u32 listener;     /* the listener's id, for the counters */
};

/* Engine-wide settings (fn_config, one entry). */
struct fn_config {
	__u16 port_min;     /* the local ports the engine owns, host order, inclusive */
	__u16 port_max;
	__u32 pad;
};

/* fn_conn.state: enough TCP to know when a flow can be forgotten (user space applies the timeouts). */
enum fn_state {
	FN_STATE_SYN         = 0, /* the client's SYN went to the backend */
	FN_STATE_ESTABLISHED = 1, /* the backend answered */
	FN_STATE_FIN         = 2, /* one side sent FIN */
	FN_STATE_CLOSING     = 3, /* both sides sent FIN */
	FN_STATE_CLOSED      = 4, /* a side sent RST */
};

/* fn_conn.flags */
#define FN_CONN_FORWARD     (1 << 0) /* the entry is keyed by the client's flow (else by the backend's) */
#define FN_CONN_TOA_DONE    (1 << 1) /* the backend acknowledged the client's first data: no more TOA */
#define FN_CONN_NAT64       (1 << 2) /* the client side is IPv6, the backend side IPv4 */
#define FN_CONN_CLIENT_FIN  (1 << 3)
#define FN_CONN_BACKEND_FIN (1 << 4)

/*
 * A connection has two entries in fn_flows: the client's flow (client -> VIP)
 * and the backend's (backend -> SNAT:port). Each holds the flow its packets
 * are rewritten to; the other entry's key is that flow reversed. State, flags
 * and the TOA live in the forward entry; last_seen in both.
 */
struct fn_conn {
	struct fn_flow rewrite; /* the packet's flow after rewriting */
	__u64 last_seen;        /* bpf_ktime_get_ns() of the last packet */
	__u32 client_isn;       /* the client's SYN sequence number (forward entry) */
	__u32 backend;          /* index in fn_backends */
	__u32 listener;         /* the listener's id */
	__u8 state;             /* enum fn_state (forward entry) */
	__u8 flags;             /* FN_CONN_* */
	__u8 toa_len;           /* 0: none to write */
	__u8 pad;
	__u8 toa[TOA_OPTION_MAX_LEN]; /* the option to insert, encoded (forward entry) */
};

/* Per listener and CPU (fn_listener_counts). */
enum fn_counter {
	FN_CNT_CONNECTIONS  = 0,  /* new connections sent to a backend */
	FN_CNT_PACKETS_IN   = 1,  /* client -> backend packets rewritten */
	FN_CNT_PACKETS_OUT  = 2,  /* backend -> client packets rewritten */
	FN_CNT_BYTES_IN     = 3,
	FN_CNT_BYTES_OUT    = 4,
	FN_CNT_TOA_WRITTEN  = 5,  /* packets that got the TOA */
	FN_CNT_TOA_NO_ROOM  = 6,  /* packets that should have had it but had no room (or were too large to grow) */
	FN_CNT_TOA_REMOVED  = 7,  /* TOA options a client sent itself, removed */
	FN_CNT_TABLE_FULL   = 8,  /* new connections refused: fn_flows is full */
	FN_CNT_NO_BACKEND   = 9,  /* new connections refused: no eligible backend */
	FN_CNT_NO_PORT      = 10, /* new connections refused: no free local port after FN_PORT_TRIES */
	FN_CNT_NO_ROUTE     = 11, /* packets dropped: no route or neighbour toward their new destination */
	FN_CNT_MSS_CLAMPED  = 12, /* SYN-ACKs whose MSS was lowered */
	FN_CNT_PORT_REUSED  = 13, /* new connections given the local port of one that had ended */
	FN_COUNTERS         = 14,
};

struct fn_counts {
	__u64 values[FN_COUNTERS];
};

/* Per backend and CPU (fn_backend_counts). */
struct fn_backend_counts {
	__u64 connections;
	__u64 bytes_in;
	__u64 bytes_out;
};

#endif
