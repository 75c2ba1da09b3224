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

/* One encoded TCP option, bytes[1] is its length. */
struct toa_option_bytes {
	__u8 bytes[TOA_OPTION_MAX_LEN];
};

/* toa_send.flags */
#define TOA_SEND_ESTABLISHED (1 << 0)
#define TOA_SEND_ACK_SENT    (1 << 1) /* the handshake ACK has gone (or is not wanted) */
#define TOA_SEND_COUNTED     (1 << 2) /* the connection's outcome is in the counters */

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
	struct toa_option_bytes options[TOA_SEND_MAX_OPTIONS];
	__u8 option_count;
	__u8 total_len;
	__u8 placement;
	__u8 slot;
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

#define TOA_SEND_SLOTS 256

/* Per slot and CPU (toa_send_counts_map). */
struct toa_send_counts {
	__u64 outcomes[TOA_SEND_OUTCOMES];
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
 * Sender state for one socket (sk_storage). toa_attach fills the options,
 * their count and length, the placement and the slot from user space's
 * struct toa_attach; toa_sender fills the rest, which tells what every
 * placement did.
 */
struct toa_send {
	struct toa_option_bytes options[TOA_SEND_MAX_OPTIONS];
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

#endif
