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

/*
 * Sender state for one socket (sk_storage). User space fills the first three
 * fields before connect(); the program fills the rest and user space reads
 * them back to tell whether every placement carried the options.
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
	__u32 data_una;      /* snd_una when established: data placement lasts while it holds */
	__u32 packets;       /* packets that carried the options */
};

#endif
