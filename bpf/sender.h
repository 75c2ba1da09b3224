/* SPDX-License-Identifier: MIT */
/*
 * The sender's kernel/user boundary. The C# side mirrors it (SenderAbi.cs);
 * a test compares the mirror with the BTF of the compiled object.
 */
#ifndef TOA_SENDER_H
#define TOA_SENDER_H

#include <linux/types.h>
#include "toa.h"

/* Where the sender puts the option (toa_send.placement). */
enum toa_placement {
	TOA_PLACE_SYN  = 1 << 0, /* the SYN */
	TOA_PLACE_ACK  = 1 << 1, /* the ACK that completes the handshake */
	TOA_PLACE_DATA = 1 << 2, /* data segments until the peer acknowledges data */
};

#define TOA_SEND_MAX_OPTIONS 4

/*
 * Options are kept back to back in TCP_OPTION_SPACE bytes, each with its length
 * in its second byte. One starts at TOA_SEND_LAST_START at the latest: every TOA
 * takes more than 4 bytes, so options that fit the option space never start later.
 */
#define TOA_SEND_LAST_START (TCP_OPTION_SPACE - 4)

/* toa_send.flags */
#define TOA_SEND_ESTABLISHED (1 << 0)
#define TOA_SEND_ACK_SENT    (1 << 1) /* the handshake ACK has gone (or is not wanted) */
#define TOA_SEND_COUNTED     (1 << 2) /* the connection's outcome is in the counters */
#define TOA_SEND_STAY        (1 << 3) /* the state stays in socket storage (TOA_ATTACH_STAY) */

/* toa_attach.flags */
#define TOA_ATTACH_STAY (1 << 0) /* keep the state in socket storage: it outlives the connection */

/*
 * How user space attaches options to a socket, before connect():
 * setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &attach, sizeof attach). The
 * kernel sets TCP_NODELAY from the leading int as for any such call; the
 * toa_attach program on the cgroup recognises the rest by its length and
 * magic and copies it into the socket's toa_send. A call a TCP client makes
 * anyway carries the options: no bpf(2) call per connection.
 */
#define TOA_ATTACH_MAGIC 0x31414f54 /* "TOA1" in memory order */

struct toa_attach {
	__s32 nodelay;       /* TCP_NODELAY's value */
	__u32 magic;         /* TOA_ATTACH_MAGIC */
	__u8 options[TCP_OPTION_SPACE]; /* back to back */
	__u8 option_count;
	__u8 total_len;
	__u8 placement;
	__u8 slot;
	__u8 flags;          /* TOA_ATTACH_* */
};

/*
 * What became of a connection's options, counted once per connection in its
 * slot (toa_send.slot) when the handshake settled: user space reads totals
 * instead of asking after every socket.
 */
enum toa_send_outcome {
	TOA_SEND_WRITTEN  = 0, /* every requested handshake placement carried them */
	TOA_SEND_NO_ROOM  = 1, /* a placement had no room for them */
	TOA_SEND_MISSING  = 2, /* a handshake placement went out without them */
	TOA_SEND_OUTCOMES = 3,
};

/*
 * The enums C# mirrors, which a test checks against this object's BTF: the
 * structs keep them in bytes, so toa_send_abi_enums (sender.bpf.c), which no
 * program calls, takes this struct so that BTF names each of them.
 */
struct toa_send_abi_enums {
	enum toa_placement placement;
	enum toa_send_outcome outcome;
};

#define TOA_SEND_SLOTS 256

/* Per slot and CPU (toa_send_counts_map). */
struct toa_send_counts {
	__u64 outcomes[TOA_SEND_OUTCOMES];
	__u64 in_storage;    /* connections whose state stayed in socket storage: the connections map was full */
};

/* The last connection of a slot that went without its options (toa_send_failures). */
struct toa_send_failure {
	__u32 family;        /* AF_INET or AF_INET6 */
	__u32 local_ip[4];   /* network order; IPv4 in [0] */
	__u32 remote_ip[4];
	__u16 local_port;    /* host order */
	__u16 remote_port;
	__u8 outcome;        /* enum toa_send_outcome */
	__u8 placements;     /* the placements at fault */
	__u8 total_len;      /* the options' length */
};

/*
 * Sender state for one socket. toa_attach fills the options, their count and
 * length, the placement and the slot from user space's struct toa_attach into
 * socket storage (toa_send_map); toa_sender moves it into the connections map
 * (toa_send_conns, by socket cookie) at connect() and fills the rest, which
 * tells what every placement did.
 */
struct toa_send {
	__u8 options[TCP_OPTION_SPACE]; /* back to back */
	__u8 option_count;
	__u8 total_len;      /* sum of the options' lengths: what is reserved */
	__u8 placement;      /* enum toa_placement */
	__u8 written;        /* placements that carried the options at least once */
	__u8 nospace;        /* placements refused for lack of option space */
	__u8 pending;        /* placement reserved for the packet being built */
	__u8 flags;          /* TOA_SEND_* */
	__u8 slot;           /* where the outcome is counted, below TOA_SEND_SLOTS */
	__u32 data_una;      /* snd_una when established: data placement lasts while it holds */
	__u32 packets;       /* packets that carried the options */
};

/* An option at TOA_SEND_LAST_START, as long as a TOA can be, is read within the struct. */
_Static_assert(sizeof(struct toa_send) >= TOA_SEND_LAST_START + TOA_OPTION_MAX_LEN,
	       "toa_send too short for bpf_store_hdr_opt's bounds");

#endif
