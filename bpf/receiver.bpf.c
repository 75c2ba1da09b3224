// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The receiver: what toa.ko does, with cgroup programs.
 *
 *  - sock_ops reads the TOA from the ACK that completes the handshake, else
 *    from the SYN (read while the SYN-ACK is built, parked by 4-tuple, so
 *    syncookies do not lose it), else from the first data segment, and keeps
 *    it in the connections map (by namespace and 4-tuple, deleted when the
 *    connection closes), else, when that is full or the kernel has no
 *    bpf_get_netns_cookie for these programs (before 5.15), in the socket's
 *    storage;
 *  - getpeername4/6 give applications the real client (accept() too);
 *  - getsockopt answers IPPROTO_IP/4096 (TOA_SO_GET_LOOKUP) for NAT64, and
 *    4097 (TOA_SO_GET_RECORD) with the whole record, for the .NET reader.
 *
 * `toa table` reads the connections map and the socket storage records
 * (through sock_diag, INET_DIAG with the records map), which costs the data
 * path nothing. `toa log` switches a
 * trace on and off at run time: while on, each decision about a connection's
 * TOA goes to a ring buffer; while off, it costs one check of a flag.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "receiver.h"
#include "tcp_options.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* What believe() makes of a parse verdict. */
#define TOA_USE 1
#define TOA_IGNORE 0
#define TOA_UNTRUSTED (-1)
#define TOA_FOREIGN_NETNS (-2)

#define TCP_BPF_SYN 1005
#define ENOENT 2
#define EINVAL 22

const volatile struct toa_receiver_config toa_config = {
	.formats = TOA_LAYOUTS_DEFAULT,
};

/* SYN-borne TOAs parked; a hint so connections skip the lookup when there are none. */
__u64 toa_parked_count;

/* A section of its own: pinned apart from .bss, it is the switch `toa log --enable` flips. */
struct toa_trace_state toa_trace SEC(".data.trace");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TOA_TRACE_BUFFER);
} toa_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct toa_record);
} toa_records SEC(".maps");

/*
 * The records of connections carrying a TOA, by namespace and 4-tuple: 128 bytes
 * each, where socket storage costs about 370. Allocated per entry (its buckets at
 * load); sock_ops deletes an entry when its connection closes (BPF_SOCK_OPS_STATE_CB).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, TOA_CONNS_MAX);
	__type(key, struct toa_flow_key);
	__type(value, struct toa_conn);
} toa_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct toa_stats);
} toa_stats SEC(".maps");

/*
 * TCP Fast Open connections that waited for a TOA: the bytes their SYN carried
 * (see on_segment). Only theirs, freed with the socket.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} toa_fastopen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TOA_PARKED_MAX);
	__type(key, struct toa_flow_key);
	__type(value, struct toa_parked);
} toa_parked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, TOA_TRUST_MAX);
	__type(key, struct toa_trust_key);
	__type(value, __u8);
} toa_trust SEC(".maps");

/* The network namespaces honoured, by inode number (what /proc/PID/ns/net names). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* a few entries of TOA_NETNS_MAX at most */
	__uint(max_entries, TOA_NETNS_MAX);
	__type(key, __u32);
	__type(value, __u8);
} toa_netns SEC(".maps");

/*
 * The little of the kernel's socket the namespace check reads. libbpf finds
 * the offsets in the running kernel's BTF (CO-RE), so no kernel headers.
 */
struct ns_common___toa {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net___toa {
	struct ns_common___toa ns;
} __attribute__((preserve_access_index));

struct sock___toa {
	struct {
		struct {
			struct net___toa *net;
		} skc_net;
	} __sk_common;
} __attribute__((preserve_access_index));

/* `stats` is evaluated once: a second map lookup would be an unchecked one. */
#define COUNT(stats, field)                                     \
	do {                                                    \
		struct toa_stats *__s = (stats);                \
		if (__s)                                        \
			__sync_fetch_and_add(&__s->field, 1);   \
	} while (0)

static __always_inline struct toa_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&toa_stats, &zero);
}

/* An address of the connection as 16 bytes, IPv4 as ::ffff:a.b.c.d. */
static __always_inline void mapped4(__u32 *out, __u32 ip4)
{
	out[0] = 0;
	out[1] = 0;
	out[2] = bpf_htonl(0xffff);
	out[3] = ip4;
}

static __always_inline void peer_of(struct bpf_sock_ops *skops, __u32 *out)
{
	if (skops->family == AF_INET) {
		mapped4(out, skops->remote_ip4);
		return;
	}
	out[0] = skops->remote_ip6[0];
	out[1] = skops->remote_ip6[1];
	out[2] = skops->remote_ip6[2];
	out[3] = skops->remote_ip6[3];
}

static __always_inline void local_of(struct bpf_sock_ops *skops, __u32 *out)
{
	if (skops->family == AF_INET) {
		mapped4(out, skops->local_ip4);
		return;
	}
	out[0] = skops->local_ip6[0];
	out[1] = skops->local_ip6[1];
	out[2] = skops->local_ip6[2];
	out[3] = skops->local_ip6[3];
}

/* remote_port holds the network-order port in its upper half on little-endian hosts. */
static __always_inline __be16 remote_port_of(struct bpf_sock_ops *skops)
{
	return bpf_htons((__u16)bpf_ntohl(skops->remote_port));
}

#if TOA_TRACE
#define TRACING() (toa_trace.enabled)
#else
#define TRACING() 0
#endif

/* What a connection's packet came to, for the trace: its belief and the parse verdict. */
static __always_inline __u8 outcome_of(int belief, int verdict)
{
	if (belief == TOA_USE)
		return TOA_TRACE_TAKEN;
	if (belief == TOA_UNTRUSTED)
		return TOA_TRACE_UNTRUSTED;
	if (belief == TOA_FOREIGN_NETNS)
		return TOA_TRACE_FOREIGN_NETNS;
	if (verdict == TOA_VERDICT_MALFORMED)
		return TOA_TRACE_MALFORMED;
	return TOA_TRACE_ABSENT;
}

/*
 * Fills a trace event from the packed arguments of toa_trace_send. A function
 * of its own: its signature puts struct toa_trace_event into the object's BTF,
 * which the ABI test reads.
 */
static __noinline void fill_event(struct toa_trace_event *e, struct bpf_sock_ops *skops, __u64 what,
				  __u64 client_hi, __u64 client_lo)
{
	e->time_ns = bpf_ktime_get_ns();
	local_of(skops, (__u32 *)e->local);
	peer_of(skops, (__u32 *)e->remote);
	e->local_port = bpf_htons((__u16)skops->local_port);
	e->remote_port = remote_port_of(skops);
	e->packet = what;
	e->outcome = what >> 8;
	e->pad[0] = 0;
	e->pad[1] = 0;
	*(__u64 *)&e->toa.client[0] = client_hi;
	*(__u64 *)&e->toa.client[8] = client_lo;
	e->toa.layout = what >> 16;
	e->toa.verdict = what >> 24;
	e->toa.port = what >> 32;
}

/*
 * Sends one trace event. A global function with scalar arguments (the TOA
 * packed into them): the verifier checks it once, not once per path that
 * reaches it; before 5.12 global functions take no pointers but the context.
 */
__noinline int toa_trace_send(struct bpf_sock_ops *skops, __u64 what, __u64 client_hi, __u64 client_lo)
{
	struct toa_trace_event *e = bpf_ringbuf_reserve(&toa_events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&toa_trace.lost, 1);
		return 0;
	}
	fill_event(e, skops, what, client_hi, client_lo);
	/* Waking the reader costs more than the event: wake it once a batch waits (it reads on a timer too). */
	bpf_ringbuf_submit(e, bpf_ringbuf_query(&toa_events, BPF_RB_AVAIL_DATA) >= TOA_TRACE_BATCH * sizeof(*e)
				      ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 1;
}

/* Sends one trace event; call it only when TRACING(). `r` is read only for outcomes that carry a TOA. */
static __always_inline void trace(struct bpf_sock_ops *skops, __u8 packet, __u8 outcome,
				  const struct toa_parse_result *r)
{
	__u64 what = packet | (__u64)outcome << 8, hi = 0, lo = 0;

	if (outcome != TOA_TRACE_ABSENT && outcome != TOA_TRACE_MALFORMED) {
		what |= (__u64)r->layout << 16 | (__u64)r->verdict << 24 | (__u64)r->port << 32;
		__builtin_memcpy(&hi, &r->client[0], 8);
		__builtin_memcpy(&lo, &r->client[8], 8);
	}
	toa_trace_send(skops, what, hi, lo);
}

static __always_inline void flow_of(struct bpf_sock_ops *skops, struct toa_flow_key *key)
{
	local_of(skops, (__u32 *)key->local);
	peer_of(skops, (__u32 *)key->remote);
	key->local_port = skops->local_port;
	key->remote_port = remote_port_of(skops);
	key->netns = 0;
}

/*
 * The key of a connection's record. Call only when toa_config.conns: the
 * verifier then never sees bpf_get_netns_cookie on kernels without it here.
 */
static __always_inline void conn_key_of(struct bpf_sock_ops *skops, struct toa_flow_key *key)
{
	flow_of(skops, key);
	key->netns = (__u32)bpf_get_netns_cookie(skops);
}

/*
 * The socket's addresses as a key's: IPv4 as ::ffff:a.b.c.d, the local port in
 * host order. Every field is read, whatever the family, with volatile loads, and
 * the family picks among the values: left to itself clang picks between two
 * fields by moving the pointer, which the verifier refuses for sockets.
 */
static __always_inline void sock_flow_of(struct bpf_sock *sk, struct toa_flow_key *key)
{
	volatile struct bpf_sock *v = sk;
	__u32 *local = (__u32 *)key->local, *remote = (__u32 *)key->remote;
	__u32 src4 = v->src_ip4, dst4 = v->dst_ip4;
	__u32 src6[4] = { v->src_ip6[0], v->src_ip6[1], v->src_ip6[2], v->src_ip6[3] };
	__u32 dst6[4] = { v->dst_ip6[0], v->dst_ip6[1], v->dst_ip6[2], v->dst_ip6[3] };
	int v4 = v->family == AF_INET;

	local[0] = v4 ? 0 : src6[0];
	local[1] = v4 ? 0 : src6[1];
	local[2] = v4 ? bpf_htonl(0xffff) : src6[2];
	local[3] = v4 ? src4 : src6[3];
	remote[0] = v4 ? 0 : dst6[0];
	remote[1] = v4 ? 0 : dst6[1];
	remote[2] = v4 ? bpf_htonl(0xffff) : dst6[2];
	remote[3] = v4 ? dst4 : dst6[3];
	key->local_port = (__u16)v->src_port;
	key->remote_port = v->dst_port;
	key->netns = 0;
}

/*
 * The record of the connection of sk into c, from the connections map, else
 * from socket storage (the map was full, or an older receiver made it); 0 if
 * none. ctx is the getpeername or getsockopt hook's.
 */
static __always_inline int find_record(void *ctx, struct bpf_sock *sk, struct toa_conn *c)
{
	struct toa_flow_key key;
	struct toa_conn *found;
	struct toa_record *rec;

	if (toa_config.conns) {
		sock_flow_of(sk, &key);
		key.netns = (__u32)bpf_get_netns_cookie(ctx);
		found = bpf_map_lookup_elem(&toa_conns, &key);
		if (found) {
			*c = *found;
			return 1;
		}
	}
	rec = bpf_sk_storage_get(&toa_records, sk, 0, 0);
	if (!rec)
		return 0;
	__builtin_memcpy(c->client, rec->client, 16);
	c->since_ns = rec->since_ns;
	c->client_port = rec->client_port;
	c->layout = rec->layout;
	c->source = rec->source;
	c->flags = rec->flags;
	return 1;
}

/*
 * Whether the connection's network namespace honours a TOA. sock_ops has no
 * bpf_get_netns_cookie before 5.15, but bpf_skc_to_tcp_sock (5.10) gives the
 * kernel's socket, whose namespace's inode number user space knows too.
 */
static __always_inline int honoured_netns(struct bpf_sock_ops *skops)
{
	struct sock___toa *sk;
	__u32 inum;

	if (!toa_config.netns_scoped)
		return 1;
	if (!skops->sk)
		return 0;
	sk = (struct sock___toa *)bpf_skc_to_tcp_sock(skops->sk);
	if (!sk)
		return 0;
	inum = sk->__sk_common.skc_net.net->ns.inum;
	return bpf_map_lookup_elem(&toa_netns, &inum) != NULL;
}

static __always_inline int trusted(struct bpf_sock_ops *skops)
{
	struct toa_trust_key key;

	if (!toa_config.trust_enabled)
		return 1;
	key.prefixlen = 128;
	peer_of(skops, (__u32 *)key.addr);
	return bpf_map_lookup_elem(&toa_trust, &key) != NULL;
}

/* The sequence number of the packet in skops, host order; 0 if there is none. */
static __always_inline __u32 seq_of(struct bpf_sock_ops *skops)
{
	const __u32 *words = (const __u32 *)(long)skops->skb_data;

	if ((const void *)(words + 2) > (const void *)(long)skops->skb_data_end)
		return 0;
	return bpf_ntohl(words[1]);
}

/* The payload the packet in skops carries beyond its TCP header, in bytes. */
static __always_inline __u32 payload_of(struct bpf_sock_ops *skops)
{
	const __u8 *data = (const __u8 *)(long)skops->skb_data;
	__u32 header;

	if ((const void *)(data + 13) > (const void *)(long)skops->skb_data_end)
		return 0;
	header = (__u32)(data[12] >> 4) * 4;
	return skops->skb_len > header ? skops->skb_len - header : 0;
}

/*
 * Parses the TCP header of the packet in skops. Most headers carry nothing
 * or just timestamps (NOP, NOP, TS): those are answered without copying.
 */
static __always_inline int parse_packet(struct bpf_sock_ops *skops, __u32 formats, struct toa_parse_result *r)
{
	const __u32 *data = (const __u32 *)(long)skops->skb_data;
	const void *end = (const void *)(long)skops->skb_data_end;
	struct toa_scratch *scratch;
	__u32 doff, copied, fingerprint;
	int slot, verdict;

	r->verdict = TOA_VERDICT_NONE;
	if ((const void *)(data + 6) > end)
		return r->verdict; /* no options (or no header) */
	doff = ((const __u8 *)data)[12] >> 4;
	if (doff == 8 && data[5] == bpf_htonl(0x0101080a))
		return r->verdict;
	slot = toa_scratch_enter(&scratch);
	if (slot < 0) {
		COUNT(stats(), toa_parse_busy);
		return r->verdict;
	}
	copied = toa_copy_header(data, end, TOA_TCP_HEADER_MAX, &scratch->slots[slot], &fingerprint);
	verdict = toa_parse_slot(slot, copied, formats, fingerprint);
	*r = scratch->results[slot];
	toa_scratch_leave(scratch, slot);
	return verdict;
}

/*
 * Keeps the TOA in r for the connection in the connections map; 0 if it is
 * full. The entry's deletion at close needs the state callback.
 */
static __always_inline int record_conn(struct bpf_sock_ops *skops, struct toa_parse_result *r, __u8 source)
{
	struct toa_flow_key key;
	struct toa_conn c = {};

	conn_key_of(skops, &key);
	__builtin_memcpy(c.client, r->client, 16);
	c.since_ns = bpf_ktime_get_ns();
	/* Layouts without a port keep the connection's. */
	c.client_port = r->port ? r->port : remote_port_of(skops);
	c.layout = r->layout;
	c.source = source;
	c.flags = toa_layout_is_v6(r->layout) ? TOA_RECORD_NAT64_HELD : 0;
	/* Any: an entry of an earlier connection of this 4-tuple is stale (its close seen by no program of ours). */
	return bpf_map_update_elem(&toa_conns, &key, &c, BPF_ANY) == 0;
}

/* Keeps the TOA in r for the connection; returns the flags it needs from now on. */
static __always_inline __u32 record(struct bpf_sock_ops *skops, struct toa_parse_result *r, __u8 source,
				    struct toa_stats *s)
{
	struct toa_record *rec;
	struct bpf_sock *sk = skops->sk;
	int i;

	if (!sk)
		return 0;
	if (toa_config.conns) {
		if (record_conn(skops, r, source)) {
			if (toa_layout_is_v6(r->layout))
				COUNT(s, ip6_address_alloc);
			return BPF_SOCK_OPS_STATE_CB_FLAG;
		}
		COUNT(s, toa_conns_full);
	}
	rec = bpf_sk_storage_get(&toa_records, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!rec)
		return 0;
#pragma unroll
	for (i = 0; i < 16; i++)
		rec->client[i] = r->client[i];
	peer_of(skops, (__u32 *)rec->peer);
	local_of(skops, (__u32 *)rec->local);
	rec->peer_port = remote_port_of(skops);
	rec->local_port = bpf_htons((__u16)skops->local_port);
	/* Layouts without a port keep the connection's. */
	rec->client_port = r->port ? r->port : rec->peer_port;
	rec->layout = r->layout;
	rec->source = source;
	rec->since_ns = bpf_ktime_get_ns();
	if (toa_layout_is_v6(r->layout)) {
		rec->flags = TOA_RECORD_NAT64_HELD;
		COUNT(s, ip6_address_alloc);
		return BPF_SOCK_OPS_STATE_CB_FLAG;
	}
	rec->flags = 0;
	return 0;
}

/* Whether a parse verdict gives a TOA to use; counts the malformed, foreign and untrusted ones. */
static __always_inline int believe(struct bpf_sock_ops *skops, int verdict, struct toa_stats *s)
{
	if (verdict == TOA_VERDICT_MALFORMED)
		COUNT(s, toa_malformed);
	if (verdict != TOA_VERDICT_FOUND)
		return TOA_IGNORE;
	if (!honoured_netns(skops)) {
		COUNT(s, toa_foreign_netns);
		return TOA_FOREIGN_NETNS;
	}
	if (!trusted(skops)) {
		COUNT(s, toa_untrusted);
		return TOA_UNTRUSTED;
	}
	return TOA_USE;
}

static __always_inline void set_flags(struct bpf_sock_ops *skops, __u32 clear, __u32 set)
{
	__u32 flags = skops->bpf_sock_ops_cb_flags;
	__u32 wanted = (flags & ~clear) | set;

	if (wanted != flags)
		bpf_sock_ops_cb_flags_set(skops, wanted);
}

/*
 * For the trace: whether the packet in skops holds a TOA in a layout the
 * receiver does not honour; if so, sends it as an UNHONOURED event. A global
 * function, so the verifier checks it once rather than once per caller; it
 * runs only while tracing. (A SYN is asked in on_synack, where its header is at hand.)
 */
__noinline int toa_trace_unhonoured(struct bpf_sock_ops *skops, __u32 packet)
{
	/* Initialised, so the verifier's states compare equal and prune. */
	struct toa_parse_result r = {};

	if (parse_packet(skops, TOA_LAYOUTS_ALL, &r) != TOA_VERDICT_FOUND)
		return 0;
	trace(skops, packet, TOA_TRACE_UNHONOURED, &r);
	return 1;
}

/* Sends the event of a connection's decisive packet; call it only when TRACING(). */
static __always_inline void report(struct bpf_sock_ops *skops, __u8 packet, __u8 outcome,
				   const struct toa_parse_result *r)
{
	/* "No TOA" may be a TOA in a layout not honoured: worth telling apart. */
	if (outcome == TOA_TRACE_ABSENT && toa_config.formats != TOA_LAYOUTS_ALL &&
	    toa_trace_unhonoured(skops, packet))
		return;
	trace(skops, packet, outcome, r);
}

/* A new listener: ask to see its SYN-ACKs being built, when its SYNs can be read. */
static __always_inline void on_listen(struct bpf_sock_ops *skops)
{
	set_flags(skops, 0, BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
}

/*
 * Whether a SYN carries just what Linux puts in one (MSS, SACK permitted,
 * timestamps, NOP, window scale): most SYNs, answered without parsing.
 */
static __always_inline int plain_linux_syn(const struct toa_tcp_header *h, long len)
{
	return len == 40 && (h->words[3] & bpf_htonl(0xf0000000)) == bpf_htonl(0xa0000000) &&
	       (h->words[5] & bpf_htonl(0xffff0000)) == bpf_htonl(0x02040000) &&
	       h->words[6] == bpf_htonl(0x0402080a) &&
	       (h->words[9] & bpf_htonl(0xffffff00)) == bpf_htonl(0x01030300);
}

/*
 * Parks a SYN's TOA by 4-tuple. toa_parked_count counts the entries: a SYN-ACK
 * built again (a retransmitted SYN, the SYN-ACK's own retransmission) replaces
 * its connection's entry; a new entry into a full map makes the LRU drop the
 * oldest, counted in toa_parked_evicted. (The LRU also drops a few entries
 * before the map is full, to keep spare ones per CPU: those go uncounted, and
 * toa_parked_count stays above the entries by as many, never below.)
 */
static __always_inline void park(struct bpf_sock_ops *skops, struct toa_parked *parked)
{
	struct toa_flow_key key;

	parked->pad = 0;
	flow_of(skops, &key);
	if (bpf_map_update_elem(&toa_parked, &key, parked, BPF_NOEXIST) != 0) {
		bpf_map_update_elem(&toa_parked, &key, parked, BPF_EXIST);
		return;
	}
	if (toa_parked_count >= TOA_PARKED_MAX)
		COUNT(stats(), toa_parked_evicted);
	else
		__sync_fetch_and_add(&toa_parked_count, 1);
}

/* A SYN-ACK is being built: park the SYN's TOA until the handshake completes. */
static __always_inline void on_synack(struct bpf_sock_ops *skops)
{
	struct toa_scratch *scratch;
	struct toa_tcp_header *h;
	struct toa_parked parked;
	int slot, verdict = TOA_VERDICT_NONE;
	__u32 fingerprint;
	__u8 outcome = 0;
	long got;

	if (skops->skb_tcp_flags != (TCP_FLAG_SYN | TCP_FLAG_ACK))
		return;
	slot = toa_scratch_enter(&scratch);
	if (slot < 0) {
		COUNT(stats(), toa_parse_busy);
		return;
	}
	h = &scratch->slots[slot];
	got = bpf_getsockopt(skops, SOL_TCP, TCP_BPF_SYN, h, TOA_TCP_HEADER_MAX);
	if (got > 0 && !plain_linux_syn(h, got)) {
		fingerprint = toa_fingerprint(h);
		verdict = toa_parse_slot(slot, got, toa_config.formats, fingerprint);
		parked.result = scratch->results[slot];
		/* For the trace: "no TOA" may be one in a layout not honoured, while the SYN is at hand. */
		if (TRACING() && verdict == TOA_VERDICT_NONE && toa_config.formats != TOA_LAYOUTS_ALL &&
		    toa_parse_slot(slot, got, TOA_LAYOUTS_ALL, fingerprint) == TOA_VERDICT_FOUND) {
			outcome = TOA_TRACE_UNHONOURED;
			parked.result = scratch->results[slot];
		}
	}
	parked.syn_seq = bpf_ntohl(h->words[1]);
	toa_scratch_leave(scratch, slot);
	if (verdict == TOA_VERDICT_FOUND) {
		/* Trusted first: spoofed SYNs must not push real ones out of the map (syncookies are when it fills). */
		if (trusted(skops)) {
			outcome = TOA_TRACE_PARKED;
		} else {
			outcome = TOA_TRACE_UNTRUSTED;
			COUNT(stats(), toa_untrusted);
		}
	} else if (verdict == TOA_VERDICT_MALFORMED) {
		outcome = TOA_TRACE_MALFORMED;
		COUNT(stats(), toa_malformed);
	}
	if (TRACING() && outcome)
		trace(skops, TOA_FROM_SYN, outcome, &parked.result);
	if (outcome == TOA_TRACE_PARKED)
		park(skops, &parked);
}

/* Takes the SYN-borne TOA parked for this connection, if any, into r. */
static __always_inline int claim_parked(struct bpf_sock_ops *skops, __u32 ack_seq, struct toa_parse_result *r)
{
	struct toa_flow_key key;
	struct toa_parked *parked;
	int match;

	if (!toa_parked_count)
		return 0;
	flow_of(skops, &key);
	parked = bpf_map_lookup_elem(&toa_parked, &key);
	if (!parked)
		return 0;
	/* An entry left by an earlier connection of the same 4-tuple is not ours. */
	match = parked->syn_seq + 1 == ack_seq;
	if (match)
		*r = parked->result;
	if (bpf_map_delete_elem(&toa_parked, &key) == 0)
		__sync_fetch_and_sub(&toa_parked_count, 1);
	return match;
}

/*
 * The ACK completing the handshake arrived: the connection exists now. With
 * TCP Fast Open it exists from the SYN with data, which is the packet here;
 * its TOA is the SYN's, else the first data's after the SYN (on_segment): the
 * kernel parses no header for programs while the socket is in SYN_RECV, so
 * its handshake ACK is never seen.
 */
static __always_inline void on_established(struct bpf_sock_ops *skops)
{
	struct toa_stats *s = stats();
	/* Initialised: clang would copy the fields a path leaves unset from registers never written. */
	struct toa_parse_result r = {}, syn = {};
	__u32 ack_seq = seq_of(skops), *syn_bytes;
	int fastopen = skops->skb_tcp_flags & TCP_FLAG_SYN;
	__u8 source = fastopen ? TOA_FROM_SYN : TOA_FROM_ACK;
	__u32 set = 0;
	int verdict = parse_packet(skops, toa_config.formats, &r), belief;

	if (!fastopen && claim_parked(skops, ack_seq, &syn) && verdict != TOA_VERDICT_FOUND) {
		/* The SYN's TOA stands in for a broken ACK's, which still counts as malformed. */
		if (verdict == TOA_VERDICT_MALFORMED)
			COUNT(s, toa_malformed);
		r = syn;
		verdict = TOA_VERDICT_FOUND;
		source = TOA_FROM_SYN;
	}
	belief = believe(skops, verdict, s);
	switch (belief) {
	case TOA_USE:
		set = record(skops, &r, source, s);
		COUNT(s, syn_recv_sock_toa);
		if (source == TOA_FROM_SYN)
			COUNT(s, toa_from_syn);
		break;
	case TOA_IGNORE:
		/* Fast Open: the SYN's bytes are received already; the wait is for the ones after them. */
		if (fastopen && skops->sk) {
			syn_bytes = bpf_sk_storage_get(&toa_fastopen, skops->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
			if (syn_bytes)
				*syn_bytes = payload_of(skops);
		}
		COUNT(s, syn_recv_sock_no_toa);
		/* Wait for the first data: only packets with options the kernel does not know. */
		set = BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG;
		break;
	default:
		/* The peer stays untrusted, the namespace foreign: their data is not worth waiting for. */
		COUNT(s, syn_recv_sock_no_toa);
	}
	if (TRACING())
		report(skops, source, outcome_of(belief, verdict), &r);
	/* The child inherits the listener's wish to see SYN-ACKs built: drop it. */
	set_flags(skops, BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG, set);
}

/*
 * A segment with an unknown option while waiting for a data-borne TOA. Only
 * the segments before any data was received count (the first data segment,
 * or pure ACKs before it); the wait ends with the first data. A Fast Open
 * connection has received its SYN's bytes already: it waits while those are
 * all it received.
 */
static __always_inline void on_segment(struct bpf_sock_ops *skops)
{
	struct toa_stats *s;
	struct toa_parse_result r = {}; /* see on_established */
	struct bpf_sock *sk = skops->sk;
	__u32 *syn_bytes, set = 0;
	int verdict, belief;

	if (skops->bytes_received > 0) {
		syn_bytes = sk ? bpf_sk_storage_get(&toa_fastopen, sk, 0, 0) : NULL;
		if (!syn_bytes || *syn_bytes != skops->bytes_received) {
			set_flags(skops, BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG, 0);
			return;
		}
	}
	if (seq_of(skops) != skops->rcv_nxt)
		return; /* out of order: not the first data */
	s = stats();
	verdict = parse_packet(skops, toa_config.formats, &r);
	belief = believe(skops, verdict, s);
	if (belief == TOA_USE) {
		set = record(skops, &r, TOA_FROM_DATA, s);
		COUNT(s, toa_from_data);
	} else if (!payload_of(skops)) {
		return; /* a pure ACK: keep waiting for the data */
	}
	if (TRACING())
		report(skops, TOA_FROM_DATA, outcome_of(belief, verdict), &r);
	set_flags(skops, BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG, set);
}

/*
 * A connection holding a TOA closes (every way a socket goes passes here: FIN,
 * RST, an abortive close, a listener closed before accept): its entry in the
 * connections map goes; a NAT64 record counts as freed.
 */
static __always_inline void on_state(struct bpf_sock_ops *skops)
{
	struct toa_flow_key key;
	struct toa_record *rec;
	struct toa_conn *c;
	struct bpf_sock *sk = skops->sk;

	if (skops->args[1] != BPF_TCP_CLOSE || !sk)
		return;
	if (toa_config.conns) {
		conn_key_of(skops, &key);
		c = bpf_map_lookup_elem(&toa_conns, &key);
		if (c) {
			if (c->flags & TOA_RECORD_NAT64_HELD)
				COUNT(stats(), ip6_address_free);
			bpf_map_delete_elem(&toa_conns, &key);
			return;
		}
	}
	rec = bpf_sk_storage_get(&toa_records, sk, 0, 0);
	if (!rec || !(rec->flags & TOA_RECORD_NAT64_HELD))
		return;
	rec->flags &= ~TOA_RECORD_NAT64_HELD;
	COUNT(stats(), ip6_address_free);
}

SEC("sockops")
int toa_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
		on_listen(skops);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		on_synack(skops);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		on_established(skops);
		break;
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:
		on_segment(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		on_state(skops);
		break;
	}
	return 1;
}

SEC("cgroup/getpeername4")
int toa_getpeername4(struct bpf_sock_addr *ctx)
{
	struct toa_conn rec;

	if (!ctx->sk || !find_record(ctx, ctx->sk, &rec))
		return 1;
	/* A NAT64 client has no IPv4 address: keep the SNAT one, as toa.ko does. */
	if (toa_layout_is_v6(rec.layout)) {
		COUNT(stats(), getname_toa_bypass);
		return 1;
	}
	ctx->user_ip4 = ((__u32 *)rec.client)[3];
	ctx->user_port = rec.client_port;
	COUNT(stats(), getname_toa_ok);
	return 1;
}

SEC("cgroup/getpeername6")
int toa_getpeername6(struct bpf_sock_addr *ctx)
{
	struct toa_conn rec;
	const __u32 *client;

	if (!ctx->sk || !find_record(ctx, ctx->sk, &rec))
		return 1;
	if (toa_layout_is_v6(rec.layout) && toa_config.nat64_peer == TOA_NAT64_PEER_SNAT) {
		COUNT(stats(), getname_toa_bypass);
		return 1;
	}
	/* IPv4 clients are already ::ffff:a.b.c.d, what a dual-stack socket shows. */
	client = (const __u32 *)rec.client;
	ctx->user_ip6[0] = client[0];
	ctx->user_ip6[1] = client[1];
	ctx->user_ip6[2] = client[2];
	ctx->user_ip6[3] = client[3];
	ctx->user_port = rec.client_port;
	COUNT(stats(), getname_toa_ok);
	return 1;
}

/*
 * Leaves the answer to the kernel. Before 6.5 an optlen beyond the buffer the
 * program was given (a page at most) fails the call with EFAULT, whatever the
 * kernel answered: optlen 0 tells it to keep its own answer.
 */
static __always_inline int pass(struct bpf_sockopt *ctx)
{
	if (ctx->optlen > TOA_SOCKOPT_PAGE)
		ctx->optlen = 0;
	return 1;
}

static __always_inline int fail(struct bpf_sockopt *ctx, int errno)
{
	/* Before 5.18 a program cannot choose the errno: the kernel's own (ENOPROTOOPT) stays. */
	if (toa_config.set_retval)
		ctx->retval = -errno;
	/* Two adjacent 4-byte context stores must not merge into one 8-byte store. */
	asm volatile("" ::: "memory");
	return pass(ctx);
}

/*
 * Answers TOA_SO_GET_LOOKUP from `rec`. A function of its own: its signature
 * puts struct toa_nat64_peer into the object's BTF, which the ABI test reads.
 */
static __noinline int answer_lookup(struct bpf_sockopt *ctx, struct toa_nat64_peer *out, const struct toa_conn *rec)
{
	int i;

#pragma unroll
	for (i = 0; i < 16; i++)
		out->saddr[i] = rec->client[i];
	out->sport = rec->client_port;
	out->pad[0] = 0;
	out->pad[1] = 0;
	ctx->optlen = sizeof(*out);
	/* Two adjacent 4-byte context stores must not merge into one 8-byte store. */
	asm volatile("" ::: "memory");
	ctx->retval = 0;
	return 1;
}

/*
 * Answers TOA_SO_GET_RECORD: the record as socket storage holds it, with the
 * socket's own addresses. A function of its own: its signature puts struct
 * toa_record into the object's BTF, which the ABI test reads.
 */
static __noinline int answer_record(struct bpf_sockopt *ctx, struct toa_record *out, const struct toa_conn *c)
{
	struct bpf_sock *sk = ctx->sk;
	struct toa_flow_key key;

	if (!sk)
		return pass(ctx);
	sock_flow_of(sk, &key);
	__builtin_memcpy(out->client, c->client, 16);
	__builtin_memcpy(out->peer, key.remote, 16);
	__builtin_memcpy(out->local, key.local, 16);
	out->since_ns = c->since_ns;
	out->client_port = c->client_port;
	out->peer_port = key.remote_port;
	out->local_port = bpf_htons(key.local_port);
	out->layout = c->layout;
	out->source = c->source;
	out->flags = c->flags;
	__builtin_memset(out->pad, 0, sizeof(out->pad));
	ctx->optlen = sizeof(*out);
	/* Two adjacent 4-byte context stores must not merge into one 8-byte store. */
	asm volatile("" ::: "memory");
	ctx->retval = 0;
	return 1;
}

SEC("cgroup/getsockopt")
int toa_getsockopt(struct bpf_sockopt *ctx)
{
	struct toa_nat64_peer *out;
	struct toa_record *whole;
	struct toa_conn rec;
	struct toa_stats *s;
	struct bpf_sock *sk;
	int optname = ctx->optname;

	/* Runs for every getsockopt in the cgroup: everything else passes untouched. */
	if (ctx->level != SOL_IP || (optname != TOA_SO_GET_LOOKUP && optname != TOA_SO_GET_RECORD))
		return pass(ctx);
	sk = ctx->sk;
	if (!sk)
		return pass(ctx);
	if (optname == TOA_SO_GET_RECORD) {
		whole = (struct toa_record *)(long)ctx->optval;
		if (ctx->optlen < (int)sizeof(*whole) || (void *)(whole + 1) > (void *)(long)ctx->optval_end)
			return fail(ctx, EINVAL);
		if (!find_record(ctx, sk, &rec))
			return fail(ctx, ENOENT);
		return answer_record(ctx, whole, &rec);
	}
	if (ctx->optlen < (int)sizeof(struct toa_nat64_peer))
		return fail(ctx, EINVAL);
	s = stats();
	if (!find_record(ctx, sk, &rec)) {
		COUNT(s, getname_toa_empty);
		return fail(ctx, EINVAL);
	}
	if (!toa_layout_is_v6(rec.layout)) {
		COUNT(s, getname_toa_mismatch);
		return fail(ctx, EINVAL);
	}
	out = (struct toa_nat64_peer *)(long)ctx->optval;
	if ((void *)(out + 1) > (void *)(long)ctx->optval_end)
		return fail(ctx, EINVAL); /* the buffer beyond a page is not the program's */
	COUNT(s, getname_toa_ok);
	return answer_lookup(ctx, out, &rec);
}

/*
 * No program calls it: its signature puts every enum the C# mirror holds into
 * the object's BTF (see struct toa_abi_enums), which the ABI test reads.
 */
__noinline int toa_abi_enums(struct toa_abi_enums *e)
{
	return 0;
}
