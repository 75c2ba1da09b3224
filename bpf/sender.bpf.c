// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The sender: toa_attach takes the TOA options user space gives a socket
 * before connect() (piggybacked on its TCP_NODELAY setsockopt) into the
 * socket's storage; toa_sender moves them at connect() into the connections
 * map, by socket cookie (setsockopt programs have no cookie helper), deletes
 * the entry when the connection closes, writes the options into that
 * connection's SYN, handshake ACK and first data segments, and counts per slot
 * whether they went out.
 */
#include <linux/bpf.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "sender.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct toa_send);
} toa_send_map SEC(".maps");

#ifndef TOA_SEND_CONNS_MAX
#define TOA_SEND_CONNS_MAX 16384 /* user space sets its own before load */
#endif

/*
 * The state of connections from connect() to close, by socket cookie: 128 bytes
 * each where socket storage costs about 400 (its own bookkeeping is most of it).
 * Allocated per entry, its buckets at load. When it is full a connection's state
 * stays in socket storage (counted in in_storage).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, TOA_SEND_CONNS_MAX);
	__type(key, __u64);
	__type(value, struct toa_send);
} toa_send_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TOA_SEND_SLOTS);
	__type(key, __u32);
	__type(value, struct toa_send_counts);
} toa_send_counts_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TOA_SEND_SLOTS);
	__type(key, __u32);
	__type(value, struct toa_send_failure);
} toa_send_failures SEC(".maps");

/* Nothing left to write: no more header-option callbacks (the state callback stays). */
static __always_inline void stop_writing(struct bpf_sock_ops *skops)
{
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags & ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
}

/* Which placement the packet being built belongs to, 0 if none wanted. */
static __always_inline __u8 placement_of(struct bpf_sock_ops *skops, struct toa_send *s)
{
	__u32 flags = skops->skb_tcp_flags;

	if (flags & TCP_FLAG_SYN)
		return s->placement & TOA_PLACE_SYN;
	if (!(s->flags & TOA_SEND_ESTABLISHED))
		return 0;
	/* Before the header is written skb_len is the payload length. */
	if (skops->skb_len > 0)
		return skops->snd_una == s->data_una ? (s->placement & TOA_PLACE_DATA) : 0;
	if (flags == 0)
		/* An MSS probe (no packet): reserve while data may carry the
		 * option, so full-sized segments still fit the path MTU. */
		return skops->snd_una == s->data_una ? (s->placement & TOA_PLACE_DATA) : 0;
	if (!(s->flags & TOA_SEND_ACK_SENT))
		return s->placement & TOA_PLACE_ACK;
	return 0;
}

/* Nothing left to write once the handshake ACK is out and data was acknowledged. */
static __always_inline int finished(struct bpf_sock_ops *skops, struct toa_send *s)
{
	return (s->flags & TOA_SEND_ACK_SENT) && skops->snd_una != s->data_una;
}

/*
 * A context field read into a register there and then. Left to itself the
 * compiler turns "v6 ? skops->local_ip6[0] : skops->local_ip4" into a load
 * through a pointer picked by family, and the verifier refuses context
 * pointers that were computed.
 */
#define CTX_READ(field) ({ __u32 __v = (field); asm volatile("" : "+r"(__v)); __v; })

static __always_inline void remember_failure(struct bpf_sock_ops *skops, struct toa_send *s,
					     __u32 slot, __u8 outcome, __u8 placements)
{
	struct toa_send_failure *f = bpf_map_lookup_elem(&toa_send_failures, &slot);
	__u32 family = skops->family;

	if (!f)
		return;
	f->family = family;
	if (family == AF_INET6) {
		f->local_ip[0] = CTX_READ(skops->local_ip6[0]);
		f->local_ip[1] = CTX_READ(skops->local_ip6[1]);
		f->local_ip[2] = CTX_READ(skops->local_ip6[2]);
		f->local_ip[3] = CTX_READ(skops->local_ip6[3]);
		f->remote_ip[0] = CTX_READ(skops->remote_ip6[0]);
		f->remote_ip[1] = CTX_READ(skops->remote_ip6[1]);
		f->remote_ip[2] = CTX_READ(skops->remote_ip6[2]);
		f->remote_ip[3] = CTX_READ(skops->remote_ip6[3]);
	} else {
		f->local_ip[0] = CTX_READ(skops->local_ip4);
		f->remote_ip[0] = CTX_READ(skops->remote_ip4);
	}
	f->local_port = skops->local_port;
	f->remote_port = bpf_ntohl(skops->remote_port);
	f->outcome = outcome;
	f->placements = placements;
	f->total_len = s->total_len;
}

/* Counts the connection's outcome, once: the first one settled is the one that stays. */
static __always_inline void settle(struct bpf_sock_ops *skops, struct toa_send *s,
				   __u8 outcome, __u8 placements)
{
	struct toa_send_counts *counts;
	__u32 slot = s->slot;

	if (s->flags & TOA_SEND_COUNTED)
		return;
	s->flags |= TOA_SEND_COUNTED;
	counts = bpf_map_lookup_elem(&toa_send_counts_map, &slot);
	/* Per-CPU: no other writer. */
	if (counts && outcome < TOA_SEND_OUTCOMES)
		counts->outcomes[outcome]++;
	if (outcome != TOA_SEND_WRITTEN)
		remember_failure(skops, s, slot, outcome, placements);
}

/* The handshake is over for the options (ACK or first data out, or no ACK wanted). */
static __always_inline void settle_handshake(struct bpf_sock_ops *skops, struct toa_send *s)
{
	__u8 missing = s->placement & (TOA_PLACE_SYN | TOA_PLACE_ACK) & ~s->written;

	settle(skops, s, missing ? TOA_SEND_MISSING : TOA_SEND_WRITTEN, missing);
}

static __always_inline void reserve(struct bpf_sock_ops *skops, struct toa_send *s)
{
	__u8 place = placement_of(skops, s);
	__u32 len = s->total_len;

	s->pending = 0;
	if (!place) {
		if ((s->flags & TOA_SEND_ESTABLISHED) && finished(skops, s))
			stop_writing(skops);
		return;
	}
	if (len == 0 || len > TCP_OPTION_SPACE)
		return;
	if (bpf_reserve_hdr_opt(skops, len, 0)) {
		s->nospace |= place;
		settle(skops, s, TOA_SEND_NO_ROOM, place);
		return;
	}
	/* The probe has no packet to write into. */
	if (skops->skb_tcp_flags)
		s->pending = place;
}

/* Stores the options one by one, walking the buffer by their lengths; 0 if all fit. */
static __always_inline int store_options(struct bpf_sock_ops *skops, struct toa_send *s)
{
	__u32 off = 0, len;
	int i;

#pragma unroll
	for (i = 0; i < TOA_SEND_MAX_OPTIONS; i++) {
		if (i >= s->option_count)
			break;
		if (off > TOA_SEND_LAST_START)
			return -1;
		len = s->options[off + 1];
		TOA_OPAQUE(len);
		if (len < 2)
			return -1;
		TOA_OPAQUE(len);
		if (len > TOA_OPTION_MAX_LEN)
			return -1;
		if (bpf_store_hdr_opt(skops, &s->options[off], len, 0))
			return -1;
		off += len;
	}
	return 0;
}

static __always_inline void write(struct bpf_sock_ops *skops, struct toa_send *s)
{
	__u8 place = s->pending;

	if (!place)
		return;
	s->pending = 0;
	if (store_options(skops, s)) {
		s->nospace |= place;
		settle(skops, s, TOA_SEND_NO_ROOM, place);
		return;
	}
	s->written |= place;
	s->packets++;
	if (place == TOA_PLACE_ACK)
		s->flags |= TOA_SEND_ACK_SENT;
	if (place != TOA_PLACE_SYN)
		settle_handshake(skops, s);
}

/*
 * connect(): the state moves from socket storage into the connections map, and
 * deleting the socket's only storage frees all of it. The state callback then
 * deletes the entry when the connection closes, whatever closes it (a refused
 * or timed out SYN too). A full map leaves the state where it is.
 */
static __always_inline void on_connect(struct bpf_sock_ops *skops, struct bpf_sock *sk)
{
	struct toa_send *s = bpf_sk_storage_get(&toa_send_map, sk, 0, 0);
	__u32 flags = skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG;
	struct toa_send_counts *counts;
	__u32 slot;
	__u64 cookie;

	if (!s)
		return;
	if (!(s->flags & TOA_SEND_STAY)) {
		cookie = bpf_get_socket_cookie(skops);
		/* Any: a cookie names one socket, and its entry went when it last closed. */
		if (bpf_map_update_elem(&toa_send_conns, &cookie, s, BPF_ANY) == 0) {
			bpf_sk_storage_delete(&toa_send_map, sk);
			flags |= BPF_SOCK_OPS_STATE_CB_FLAG;
		} else {
			slot = s->slot;
			counts = bpf_map_lookup_elem(&toa_send_counts_map, &slot);
			if (counts)
				counts->in_storage++;
		}
	}
	bpf_sock_ops_cb_flags_set(skops, flags);
}

/* The connection's state, from socket storage or, once moved, the connections map; NULL if none. */
static __always_inline struct toa_send *state_of(struct bpf_sock_ops *skops, struct bpf_sock *sk)
{
	struct toa_send *s = bpf_sk_storage_get(&toa_send_map, sk, 0, 0);
	__u64 cookie;

	/* Only moved connections ask for the state callback: others need no cookie. */
	if (s || !(skops->bpf_sock_ops_cb_flags & BPF_SOCK_OPS_STATE_CB_FLAG))
		return s;
	cookie = bpf_get_socket_cookie(skops);
	return bpf_map_lookup_elem(&toa_send_conns, &cookie);
}

SEC("sockops")
int toa_sender(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	__u32 op = skops->op;
	struct toa_send *s;
	__u64 cookie;

	if (!sk)
		return 1;
	switch (op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		on_connect(skops, sk);
		return 1;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE) {
			cookie = bpf_get_socket_cookie(skops);
			bpf_map_delete_elem(&toa_send_conns, &cookie);
		}
		return 1;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		break;
	default:
		return 1;
	}
	s = state_of(skops, sk);
	if (!s)
		return 1;

	switch (op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		s->flags |= TOA_SEND_ESTABLISHED;
		s->data_una = skops->snd_una;
		if (!(s->placement & TOA_PLACE_ACK)) {
			s->flags |= TOA_SEND_ACK_SENT;
			settle_handshake(skops, s);
		}
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		reserve(skops, s);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		write(skops, s);
		break;
	}
	return 1;
}

SEC("cgroup/setsockopt")
int toa_attach(struct bpf_sockopt *ctx)
{
	struct toa_attach *a = ctx->optval;
	struct bpf_sock *sk = ctx->sk;
	struct toa_send *s;

	/*
	 * Runs for every setsockopt in the cgroup. Before 6.5 a value longer than
	 * the page the program was given fails the call with EFAULT unless optlen
	 * is 0, which tells the kernel to use the caller's value as it is.
	 */
	if (ctx->optlen > TOA_SOCKOPT_PAGE) {
		ctx->optlen = 0;
		return 1;
	}
	if (ctx->level != SOL_TCP || ctx->optname != TCP_NODELAY || ctx->optlen != sizeof(*a))
		return 1;
	if ((void *)(a + 1) > ctx->optval_end || a->magic != TOA_ATTACH_MAGIC || !sk)
		return 1;
	s = bpf_sk_storage_get(&toa_send_map, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return 0; /* EPERM: the caller learns the options are not attached */
	__builtin_memcpy(s->options, a->options, sizeof(s->options));
	s->option_count = a->option_count;
	s->total_len = a->total_len;
	s->placement = a->placement;
	s->slot = a->slot;
	/* A socket attached again starts over. */
	s->written = 0;
	s->nospace = 0;
	s->pending = 0;
	s->flags = (a->flags & TOA_ATTACH_STAY) ? TOA_SEND_STAY : 0;
	s->data_una = 0;
	s->packets = 0;
	/* The kernel's TCP_NODELAY reads the leading int; the rest is ours. */
	ctx->optlen = sizeof(a->nodelay);
	return 1;
}

/* Never called: it keeps struct toa_send_abi_enums, and so the enums, in the object's BTF. */
__noinline int toa_send_abi_enums(struct toa_send_abi_enums *e)
{
	return 0;
}
