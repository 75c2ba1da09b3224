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

/*
 * Sender state for one socket (sk_storage), written by user space before
 * connect(): the options already encoded, and where to put them. The program
 * reports back through the written/nospace masks and the counters.
 */
struct toa_send {
	struct toa_option_bytes options[TOA_SEND_MAX_OPTIONS];
	__u8 option_count;
	__u8 total_len;    /* sum of the options' lengths: what is reserved */
	__u8 placement;    /* enum toa_placement */
	__u8 written;      /* placements that carried the options at least once */
	__u8 nospace;      /* placements refused for lack of option space */
	__u8 pending;      /* placement reserved for the packet being built */
	__u8 handshake_acked;  /* the handshake ACK was sent */
	__u8 established;
	__u32 data_una;    /* snd_una when established: data placement lasts while it holds */
	__u32 packets;     /* packets that carried the options */
};

#endif
