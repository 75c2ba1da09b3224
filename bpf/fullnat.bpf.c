// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The packet engine's datapath (see fullnat.h): one tc ingress program on every
 * interface that carries a listener's address or a route to its backends.
 *
 * A packet whose flow has an entry in fn_flows is rewritten to the entry's flow
 * and sent out of the interface the route to its new destination names; a
 * client's SYN to a listener with no entry makes a connection (two entries);
 * everything else goes to the stack untouched. Headers are read and written with
 * bpf_skb_load_bytes/store_bytes, not direct access: the same code then holds
 * for non-linear packets, and old verifiers have no packet bounds to follow.
 * Checksums are updated incrementally; on CHECKSUM_PARTIAL packets (veth) the
 * helpers touch only the pseudo-header's part, as they should.
 *
 * IPv4 (IHL 5, no fragments) and, for NAT64 listeners, IPv6 with TCP right
 * after the fixed header: anything else passes. A NAT64 connection's client
 * packets become IPv4 first and are then handled as any other; its backend's
 * become IPv6 last, in place of the rewrite.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "fullnat.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FN_MAX_LISTENERS);
	__type(key, struct fn_vip_key);
	__type(value, struct fn_vip);
} fn_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FN_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct fn_backend);
} fn_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FN_TABLE_REGIONS * FN_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} fn_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fn_config);
} fn_config SEC(".maps");

/* max_entries is set by user space before load: two per connection. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, struct fn_flow);
	__type(value, struct fn_conn);
} fn_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FN_MAX_LISTENERS);
	__type(key, __u32);
	__type(value, struct fn_counts);
} fn_listener_counts SEC(".maps");

/*
 * Per CPU: the next local port to try, as an offset into the range. Ports are
 * taken in turn, so the one a new connection meets is the one used longest
 * ago, the likeliest to belong to a connection that has ended (see fn_reclaim).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fn_port_cursor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FN_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct fn_backend_counts);
} fn_backend_counts SEC(".maps");

/* The largest payload moved to make room for the TOA; a larger one goes without (counted). */
#define FN_MOVE_MAX 2048

/*
 * Options walked in a copy: lowering MSS, blanking a client's TOA. In map
 * memory, not on the stack: the verifier knows nothing of what it reads back
 * (the walk's position too), so the rounds of the walk look alike to it and it
 * prunes them (on the stack it tracked every offset and did not finish).
 */
struct fn_opts {
	__u8 buf[64];       /* the options; indexes masked with 63 */
	__u8 old[TCP_OPTION_SPACE];
	__u32 len;          /* bytes of options, at most TCP_OPTION_SPACE */
	__u32 next;         /* the walk's position */
	__u16 mss;          /* clamp an MSS option to this; 0 leaves it */
	__u8 strip;         /* blank the TOA kinds */
	__u8 clamped;
	__u8 removed;
	__u8 eol;           /* an end of list became NOPs */
	__u8 pad[2];
	__u64 blank;        /* bit i: option byte i becomes a NOP */
};

/* Per CPU: tc programs do not nest on one CPU. */
struct fn_scratch {
	struct fn_opts opts;
	__u8 move[FN_MOVE_MAX]; /* a payload while it moves */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fn_scratch);
} fn_scratch SEC(".maps");

#define FN_IP_OFF    ETH_HLEN
#define FN_TCP_OFF   (ETH_HLEN + sizeof(struct iphdr))
#define FN_TCP_CSUM  (FN_TCP_OFF + offsetof(struct tcphdr, check))
#define FN_IP_CSUM   (FN_IP_OFF + offsetof(struct iphdr, check))
#define FN_OPT_OFF   (FN_TCP_OFF + sizeof(struct tcphdr))

#define TCPOPT_EOL  0
#define TCPOPT_NOP  1
#define TCPOPT_MSS  2
#define TCPOPT_TOA_TENCENT4 200
#define TCPOPT_TOA_V6 253
#define TCPOPT_EXP 254
#define TCPOPT_TFO_MAGIC 0xF989

/* The packet being handled, as parsed. */
struct fn_pkt {
	struct fn_flow flow;
	__u32 seq;
	__u32 ack_seq;
	__u16 tot_len;      /* the IP header's, host order */
	__u8 doff;          /* the TCP header's length in bytes */
	__u8 flags;         /* TCP_FLAG_* */
	__u8 ttl;           /* or hop limit */
	__u8 pad[3];
};

#define FN_IP6_LEN   40
#define FN_TCP6_OFF  (ETH_HLEN + FN_IP6_LEN)

static __always_inline void fn_count(__u32 listener, __u32 counter, __u64 n)
{
	struct fn_counts *c = bpf_map_lookup_elem(&fn_listener_counts, &listener);

	if (c && counter < FN_COUNTERS)
		c->values[counter] += n;
}

static __always_inline int fn_parse_tcp(struct __sk_buff *skb, __u32 off, struct fn_pkt *p)
{
	struct tcphdr th;

	if (bpf_skb_load_bytes(skb, off, &th, sizeof(th)) < 0)
		return -1;
	if (th.doff < 5)
		return -1;
	p->flow.sport = th.source;
	p->flow.dport = th.dest;
	p->seq = bpf_ntohl(th.seq);
	p->ack_seq = bpf_ntohl(th.ack_seq);
	p->doff = th.doff * 4;
	p->flags = ((__u8 *)&th)[13];
	return 0;
}

static __always_inline int fn_parse(struct __sk_buff *skb, struct fn_pkt *p)
{
	struct ipv6hdr ip6;
	struct iphdr ip;

	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, FN_IP_OFF, &ip6, sizeof(ip6)) < 0)
			return -1;
		/* No extension headers; a length that stays one as IPv4. */
		if (ip6.nexthdr != IPPROTO_TCP || bpf_ntohs(ip6.payload_len) > 0xffff - sizeof(struct iphdr))
			return -1;
		__builtin_memcpy(p->flow.saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->flow.daddr, &ip6.daddr, 16);
		p->flow.family = AF_INET6;
		p->ttl = ip6.hop_limit;
		/* As the IPv4 packet it becomes would have it. */
		p->tot_len = bpf_ntohs(ip6.payload_len) + sizeof(struct iphdr);
		if (fn_parse_tcp(skb, FN_TCP6_OFF, p) < 0)
			return -1;
		return p->tot_len < sizeof(struct iphdr) + p->doff ? -1 : 0;
	}
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return -1;
	if (bpf_skb_load_bytes(skb, FN_IP_OFF, &ip, sizeof(ip)) < 0)
		return -1;
	if (ip.ihl != 5 || ip.protocol != IPPROTO_TCP || (ip.frag_off & bpf_htons(0x3fff)))
		return -1;
	p->flow.saddr[0] = ip.saddr;
	p->flow.daddr[0] = ip.daddr;
	p->flow.family = AF_INET;
	p->ttl = ip.ttl;
	p->tot_len = bpf_ntohs(ip.tot_len);
	if (fn_parse_tcp(skb, FN_TCP_OFF, p) < 0)
		return -1;
	return p->tot_len < sizeof(ip) + p->doff ? -1 : 0;
}

static __always_inline void fn_reverse(struct fn_flow *out, const struct fn_flow *in)
{
	__builtin_memset(out, 0, sizeof(*out));
	out->saddr[0] = in->daddr[0];
	out->saddr[1] = in->daddr[1];
	out->saddr[2] = in->daddr[2];
	out->saddr[3] = in->daddr[3];
	out->daddr[0] = in->saddr[0];
	out->daddr[1] = in->saddr[1];
	out->daddr[2] = in->saddr[2];
	out->daddr[3] = in->saddr[3];
	out->sport = in->dport;
	out->dport = in->sport;
	out->family = in->family;
}

#define FN_OPT(o, i) ((o)->buf[(i) & 63])

/*
 * One pass over the options with a fixed number of rounds (an option takes at
 * least one), the offset bounded by the option space: old verifiers follow it.
 */
static __noinline int fn_walk(struct fn_opts *o)
{
	volatile __u32 *next = &o->next;
	__u32 off, len, kind, mss;
	int round;

	*next = 0;
	for (round = 0; round < TCP_OPTION_SPACE; round++) {
		off = *next & 63;
		if (off >= o->len)
			break;
		kind = FN_OPT(o, off);
		if (kind == TCPOPT_EOL) {
			/* Nothing after an end of list is read, a TOA appended there neither. */
			if (o->strip) {
				o->blank |= ((1ULL << (o->len - off)) - 1) << off;
				o->eol = 1;
			}
			break;
		}
		if (kind == TCPOPT_NOP) {
			*next = off + 1;
			continue;
		}
		if (off + 1 >= o->len)
			break;
		len = FN_OPT(o, off + 1);
		if (len < 2 || off + len > o->len)
			break;
		if (kind == TCPOPT_MSS && len == 4 && o->mss) {
			mss = (FN_OPT(o, off + 2) << 8) | FN_OPT(o, off + 3);
			if (mss > o->mss) {
				FN_OPT(o, off + 2) = o->mss >> 8;
				FN_OPT(o, off + 3) = o->mss & 0xff;
				o->clamped = 1;
			}
		} else if (o->strip && (kind == TCPOPT_TOA_TENCENT4 || kind == TCPOPT_TOA_V6 || kind == TCPOPT_EXP)) {
			/* 254 with the Fast Open magic is no TOA. */
			if (!(kind == TCPOPT_EXP && len >= 4 && FN_OPT(o, off + 2) == (TCPOPT_TFO_MAGIC >> 8) &&
			      FN_OPT(o, off + 3) == (TCPOPT_TFO_MAGIC & 0xff))) {
				o->blank |= ((1ULL << len) - 1) << off;
				o->removed = 1;
			}
		}
		*next = off + len;
	}
	return o->clamped | o->removed | o->eol;
}

/*
 * Clamps MSS (mss != 0) and blanks a client's TOA (strip) in the packet's
 * options; returns what it did as counters' bits: 1 clamped, 2 removed.
 * Global (context and scalars only, as 5.10 requires): the verifier checks it
 * and its walk once, not once for every path that calls it.
 */
__noinline int fn_options(struct __sk_buff *skb, __u32 doff, __u32 mss, __u32 strip)
{
	__u32 len = doff - sizeof(struct tcphdr), zero = 0;
	struct fn_scratch *scratch;
	struct fn_opts *o;
	__s64 diff;
	int i;

	/* Options come in words: 4 to 40 bytes. */
	TOA_OPAQUE(len);
	if (len < 4)
		return 0;
	TOA_OPAQUE(len);
	if (len > TCP_OPTION_SPACE)
		return 0;
	scratch = bpf_map_lookup_elem(&fn_scratch, &zero);
	if (!scratch)
		return 0;
	o = &scratch->opts;
	if (bpf_skb_load_bytes(skb, FN_OPT_OFF, o->buf, len) < 0)
		return 0;
	/* The usual segment's options (NOP NOP timestamps) carry nothing to change. */
	if (!mss && len == 12 && o->buf[0] == TCPOPT_NOP && o->buf[1] == TCPOPT_NOP && o->buf[2] == 8 && o->buf[3] == 10)
		return 0;
	__builtin_memcpy(o->old, o->buf, TCP_OPTION_SPACE);
	o->len = len;
	o->mss = mss;
	o->strip = strip;
	o->clamped = 0;
	o->removed = 0;
	o->eol = 0;
	o->blank = 0;
	if (!fn_walk(o))
		return 0;
	for (i = 0; i < TCP_OPTION_SPACE; i++)
		if (o->blank & (1ULL << i))
			o->buf[i] = TCPOPT_NOP;
	diff = bpf_csum_diff((__be32 *)o->old, len, (__be32 *)o->buf, len, 0);
	if (diff < 0)
		return 0;
	if (bpf_skb_store_bytes(skb, FN_OPT_OFF, o->buf, len, BPF_F_RECOMPUTE_CSUM) < 0)
		return 0;
	bpf_l4_csum_replace(skb, FN_TCP_CSUM, 0, diff, 0);
	return (o->clamped ? 1 : 0) | (o->removed ? 2 : 0);
}

/*
 * Inserts the connection's TOA after the packet's options: the packet grows at
 * the tail and its payload (if any) moves up by the option's length. That length
 * is even, so the payload's sum is unchanged and only the option, doff and the
 * lengths enter the checksums. Returns 0 when written, -1 when it does not fit.
 */
static __noinline int fn_add_toa(struct __sk_buff *skb, struct fn_pkt *p, struct fn_conn *c)
{
	__u32 toa_len = c->toa_len, end = FN_TCP_OFF + p->doff, zero = 0;
	__u32 payload = p->tot_len - sizeof(struct iphdr) - p->doff, move_len;
	__u16 old_word, new_word, old_tot = bpf_htons(p->tot_len), new_tot;
	__u16 old_tcp = bpf_htons(p->tot_len - sizeof(struct iphdr)), new_tcp;
	struct fn_scratch *move;
	__s64 diff;

	TOA_OPAQUE(toa_len);
	if (toa_len < 8)
		return -1;
	TOA_OPAQUE(toa_len);
	if (toa_len > TOA_OPTION_MAX_LEN || (toa_len & 3))
		return -1;
	if (p->doff + toa_len > sizeof(struct tcphdr) + TCP_OPTION_SPACE)
		return -1;
	if (payload && (skb->gso_size || payload >= FN_MOVE_MAX))
		return -1;
	move = bpf_map_lookup_elem(&fn_scratch, &zero);
	if (!move)
		return -1;
	/* The payload's length as a size older verifiers see is never 0: (n - 1) % max + 1 is n here. */
	move_len = payload;
	TOA_OPAQUE(move_len);
	move_len = ((move_len - 1) & (FN_MOVE_MAX - 1)) + 1;
	if (payload && bpf_skb_load_bytes(skb, end, move->move, move_len) < 0)
		return -1;
	if (bpf_skb_load_bytes(skb, FN_TCP_OFF + 12, &old_word, 2) < 0)
		return -1;
	/* The exact new length: drops any Ethernet padding the frame came with. */
	if (bpf_skb_change_tail(skb, FN_IP_OFF + p->tot_len + toa_len, 0) < 0)
		return -1;
	if (payload && bpf_skb_store_bytes(skb, end + toa_len, move->move, move_len, 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, end, c->toa, toa_len, 0) < 0)
		return -1;
	diff = bpf_csum_diff(0, 0, (__be32 *)c->toa, toa_len, 0);
	bpf_l4_csum_replace(skb, FN_TCP_CSUM, 0, diff, 0);

	/* doff shares a word with the flags. */
	new_word = old_word + bpf_htons((__u16)(toa_len / 4) << 12);
	bpf_skb_store_bytes(skb, FN_TCP_OFF + 12, &new_word, 2, 0);
	bpf_l4_csum_replace(skb, FN_TCP_CSUM, old_word, new_word, 2);

	new_tcp = bpf_htons(p->tot_len - sizeof(struct iphdr) + toa_len);
	bpf_l4_csum_replace(skb, FN_TCP_CSUM, old_tcp, new_tcp, BPF_F_PSEUDO_HDR | 2);
	new_tot = bpf_htons(p->tot_len + toa_len);
	bpf_skb_store_bytes(skb, FN_IP_OFF + offsetof(struct iphdr, tot_len), &new_tot, 2, 0);
	bpf_l3_csum_replace(skb, FN_IP_CSUM, old_tot, new_tot, 2);
	p->tot_len += toa_len;
	p->doff += toa_len;
	return 0;
}

static __always_inline void fn_rewrite_ports(struct __sk_buff *skb, __u32 tcp, const struct fn_pkt *p, const struct fn_flow *to)
{
	__u16 sport = to->sport, dport = to->dport;

	if (sport != p->flow.sport) {
		bpf_l4_csum_replace(skb, tcp + offsetof(struct tcphdr, check), p->flow.sport, sport, 2);
		bpf_skb_store_bytes(skb, tcp + offsetof(struct tcphdr, source), &sport, 2, 0);
	}
	if (dport != p->flow.dport) {
		bpf_l4_csum_replace(skb, tcp + offsetof(struct tcphdr, check), p->flow.dport, dport, 2);
		bpf_skb_store_bytes(skb, tcp + offsetof(struct tcphdr, dest), &dport, 2, 0);
	}
}

/* Rewrites an IPv4 packet's addresses and ports from its flow to `to`. */
static __always_inline void fn_rewrite(struct __sk_buff *skb, const struct fn_pkt *p, const struct fn_flow *to)
{
	__u32 saddr = to->saddr[0], daddr = to->daddr[0];

	if (saddr != p->flow.saddr[0]) {
		bpf_l4_csum_replace(skb, FN_TCP_CSUM, p->flow.saddr[0], saddr, BPF_F_PSEUDO_HDR | 4);
		bpf_l3_csum_replace(skb, FN_IP_CSUM, p->flow.saddr[0], saddr, 4);
		bpf_skb_store_bytes(skb, FN_IP_OFF + offsetof(struct iphdr, saddr), &saddr, 4, 0);
	}
	if (daddr != p->flow.daddr[0]) {
		bpf_l4_csum_replace(skb, FN_TCP_CSUM, p->flow.daddr[0], daddr, BPF_F_PSEUDO_HDR | 4);
		bpf_l3_csum_replace(skb, FN_IP_CSUM, p->flow.daddr[0], daddr, 4);
		bpf_skb_store_bytes(skb, FN_IP_OFF + offsetof(struct iphdr, daddr), &daddr, 4, 0);
	}
	fn_rewrite_ports(skb, FN_TCP_OFF, p, to);
}

/*
 * The pseudo-header's addresses from one family's to the other's, word by word
 * (unused words are zero: they add nothing to the sum). Word replacements are
 * what the helpers do alike for every ip_summed, CHECKSUM_PARTIAL included.
 */
static __always_inline void fn_pseudo_swap(struct __sk_buff *skb, __u32 csum, const __u32 *from, const __u32 *to)
{
	int i;

#pragma unroll
	for (i = 0; i < 4; i++)
		if (from[i] != to[i])
			bpf_l4_csum_replace(skb, csum, from[i], to[i], BPF_F_PSEUDO_HDR | 4);
}

/*
 * A NAT64 client's IPv6 packet becomes IPv4 from the SNAT address to the
 * backend (`to`; ports unchanged yet): `p` then describes that packet.
 */
static __noinline int fn_6to4(struct __sk_buff *skb, struct fn_pkt *p, const struct fn_flow *to)
{
	struct iphdr ip = {};
	__u16 proto = bpf_htons(ETH_P_IP);
	__u32 v4s[4] = {}, v4d[4] = {};
	__s64 sum;

	if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IP), 0) < 0)
		return -1;
	ip.version = 4;
	ip.ihl = 5;
	ip.tot_len = bpf_htons(p->tot_len);
	ip.frag_off = bpf_htons(0x4000); /* DF */
	ip.ttl = p->ttl;
	ip.protocol = IPPROTO_TCP;
	ip.saddr = to->saddr[0];
	ip.daddr = to->daddr[0];
	sum = bpf_csum_diff(0, 0, (__be32 *)&ip, sizeof(ip), 0);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip.check = ~sum;
	if (bpf_skb_store_bytes(skb, ETH_ALEN * 2, &proto, 2, 0) < 0 ||
	    bpf_skb_store_bytes(skb, FN_IP_OFF, &ip, sizeof(ip), 0) < 0)
		return -1;
	v4s[0] = ip.saddr;
	v4d[0] = ip.daddr;
	fn_pseudo_swap(skb, FN_TCP_CSUM, p->flow.saddr, v4s);
	fn_pseudo_swap(skb, FN_TCP_CSUM, p->flow.daddr, v4d);
	__builtin_memcpy(p->flow.saddr, v4s, 16);
	__builtin_memcpy(p->flow.daddr, v4d, 16);
	p->flow.family = AF_INET;
	return 0;
}

/* A NAT64 backend's IPv4 packet becomes IPv6 from the listener to the client (`to`, ports too). */
static __noinline int fn_4to6(struct __sk_buff *skb, struct fn_pkt *p, const struct fn_flow *to)
{
	struct ipv6hdr ip6 = {};
	__u16 proto = bpf_htons(ETH_P_IPV6);

	if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0) < 0)
		return -1;
	ip6.version = 6;
	ip6.payload_len = bpf_htons(p->tot_len - sizeof(struct iphdr));
	ip6.nexthdr = IPPROTO_TCP;
	ip6.hop_limit = p->ttl;
	__builtin_memcpy(&ip6.saddr, to->saddr, 16);
	__builtin_memcpy(&ip6.daddr, to->daddr, 16);
	if (bpf_skb_store_bytes(skb, ETH_ALEN * 2, &proto, 2, 0) < 0 ||
	    bpf_skb_store_bytes(skb, FN_IP_OFF, &ip6, sizeof(ip6), 0) < 0)
		return -1;
	fn_pseudo_swap(skb, FN_TCP6_OFF + offsetof(struct tcphdr, check), p->flow.saddr, to->saddr);
	fn_pseudo_swap(skb, FN_TCP6_OFF + offsetof(struct tcphdr, check), p->flow.daddr, to->daddr);
	fn_rewrite_ports(skb, FN_TCP6_OFF, p, to);
	return 0;
}

/*
 * Sends the rewritten packet toward its new destination: the route's interface
 * and next hop's MAC, or the kernel's neighbour resolution when the next hop is
 * not known yet. A destination on this host goes to the stack.
 */
static __noinline int fn_send(struct __sk_buff *skb, const struct fn_flow *to, __u32 listener)
{
	struct bpf_fib_lookup fib = {};
	int rc;

	fib.family = to->family;
	fib.l4_protocol = IPPROTO_TCP;
	if (to->family == AF_INET6) {
		__builtin_memcpy(fib.ipv6_src, to->saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, to->daddr, 16);
	} else {
		fib.ipv4_src = to->saddr[0];
		fib.ipv4_dst = to->daddr[0];
	}
	fib.ifindex = skb->ifindex;
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0);
		bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0);
		return bpf_redirect(fib.ifindex, 0);
	}
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return bpf_redirect_neigh(fib.ifindex, 0, 0, 0);
	if (rc == BPF_FIB_LKUP_RET_NOT_FWDED)
		return TC_ACT_OK;
	fn_count(listener, FN_CNT_NO_ROUTE, 1);
	return TC_ACT_SHOT;
}

static __always_inline void fn_fin(struct fn_conn *fwd, __u8 flags, __u8 side)
{
	if (flags & TCP_FLAG_RST) {
		fwd->state = FN_STATE_CLOSED;
		return;
	}
	if (!(flags & TCP_FLAG_FIN) || fwd->state == FN_STATE_CLOSED)
		return;
	fwd->flags |= side;
	fwd->state = (fwd->flags & (FN_CONN_CLIENT_FIN | FN_CONN_BACKEND_FIN)) ==
			     (FN_CONN_CLIENT_FIN | FN_CONN_BACKEND_FIN)
		? FN_STATE_CLOSING : FN_STATE_FIN;
}

static __always_inline __u32 fn_vip_mss(const struct fn_flow *vip_side)
{
	struct fn_vip_key key = {};
	struct fn_vip *vip;

	__builtin_memcpy(key.addr, vip_side->daddr, 16);
	key.port = vip_side->dport;
	key.family = vip_side->family;
	vip = bpf_map_lookup_elem(&fn_vips, &key);
	return vip ? vip->mss : 0;
}

/* A client's packet of a connection: state, options, TOA, then rewrite and send. */
static __noinline int fn_forward(struct __sk_buff *skb, struct fn_pkt *p, struct fn_conn *c)
{
	__u32 listener = c->listener, backend = c->backend, mss = 0, len = skb->len;
	struct fn_backend_counts *bc;
	int done;

	c->last_seen = bpf_ktime_get_ns();
	fn_fin(c, p->flags, FN_CONN_CLIENT_FIN);
	if (p->flags & TCP_FLAG_SYN)
		mss = fn_vip_mss(&p->flow);
	if (p->flow.family == AF_INET6 && fn_6to4(skb, p, &c->rewrite) < 0)
		return TC_ACT_SHOT;
	if (p->doff > sizeof(struct tcphdr)) {
		done = fn_options(skb, p->doff, mss, 1);
		if (done & 1)
			fn_count(listener, FN_CNT_MSS_CLAMPED, 1);
		if (done & 2)
			fn_count(listener, FN_CNT_TOA_REMOVED, 1);
	}
	if (c->toa_len && !(c->flags & FN_CONN_TOA_DONE) &&
	    (p->flags & (TCP_FLAG_SYN | TCP_FLAG_RST | TCP_FLAG_ACK)) == TCP_FLAG_ACK) {
		if (fn_add_toa(skb, p, c) == 0)
			fn_count(listener, FN_CNT_TOA_WRITTEN, 1);
		else
			fn_count(listener, FN_CNT_TOA_NO_ROOM, 1);
	}
	fn_rewrite(skb, p, &c->rewrite);
	fn_count(listener, FN_CNT_PACKETS_IN, 1);
	fn_count(listener, FN_CNT_BYTES_IN, len);
	bc = bpf_map_lookup_elem(&fn_backend_counts, &backend);
	if (bc)
		bc->bytes_in += len;
	return fn_send(skb, &c->rewrite, listener);
}

/* A backend's packet of a connection: the forward entry's state, then rewrite and send. */
static __noinline int fn_backward(struct __sk_buff *skb, struct fn_pkt *p, struct fn_conn *c)
{
	__u32 listener = c->listener, backend = c->backend, len = skb->len;
	struct fn_backend_counts *bc;
	struct fn_flow key;
	struct fn_conn *fwd;
	int done;

	c->last_seen = bpf_ktime_get_ns();
	fn_reverse(&key, &c->rewrite);
	fwd = bpf_map_lookup_elem(&fn_flows, &key);
	if (fwd) {
		fwd->last_seen = c->last_seen;
		if ((p->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == (TCP_FLAG_SYN | TCP_FLAG_ACK) && fwd->state == FN_STATE_SYN)
			fwd->state = FN_STATE_ESTABLISHED;
		fn_fin(fwd, p->flags, FN_CONN_BACKEND_FIN);
		/* The backend acknowledged the client's data: it has read the TOA. */
		if ((p->flags & TCP_FLAG_ACK) && (__s32)(p->ack_seq - (fwd->client_isn + 1)) > 0)
			fwd->flags |= FN_CONN_TOA_DONE;
	}
	if ((p->flags & TCP_FLAG_SYN) && p->doff > sizeof(struct tcphdr)) {
		done = fn_options(skb, p->doff, fn_vip_mss(&key), 0);
		if (done & 1)
			fn_count(listener, FN_CNT_MSS_CLAMPED, 1);
	}
	if (c->rewrite.family == AF_INET6) {
		if (fn_4to6(skb, p, &c->rewrite) < 0)
			return TC_ACT_SHOT;
	} else {
		fn_rewrite(skb, p, &c->rewrite);
	}
	fn_count(listener, FN_CNT_PACKETS_OUT, 1);
	fn_count(listener, FN_CNT_BYTES_OUT, len);
	bc = bpf_map_lookup_elem(&fn_backend_counts, &backend);
	if (bc)
		bc->bytes_out += len;
	return fn_send(skb, &c->rewrite, listener);
}

static __always_inline __u32 fn_hash(const struct fn_flow *f)
{
	__u32 h = 0x9e3779b9;
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		h ^= f->saddr[i];
		h *= 0x85ebca6b;
		h ^= h >> 13;
	}
	h ^= f->sport;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* The option that carries the client (struct fn_conn.toa); its length, 0 for none. */
static __always_inline __u8 fn_toa(struct fn_conn *c, const struct fn_flow *client, __u8 format)
{
	if (format == FN_TOA_NONE)
		return 0;
	__builtin_memcpy(&c->toa[2], &client->sport, 2);
	if (client->family == AF_INET6) {
		c->toa[0] = format == FN_TOA_DPVS ? TCPOPT_EXP : TCPOPT_TOA_V6;
		c->toa[1] = 20;
		__builtin_memcpy(&c->toa[4], client->saddr, 16);
		return 20;
	}
	c->toa[0] = format == FN_TOA_DPVS ? TCPOPT_EXP : TCPOPT_TOA_TENCENT4;
	c->toa[1] = 8;
	__builtin_memcpy(&c->toa[4], &client->saddr[0], 4);
	return 8;
}

/*
 * The local port of backend-side entry `rkey` is free again when its connection
 * has ended, both FINs or a reset, and nothing of it has passed for
 * FN_REUSE_NS: its two entries go now rather than at the sweeper's timeout, so
 * ports are not held for seconds by connections that are over. Late segments
 * of that connection then meet no entry. Returns 1 when the entries are gone.
 */
static __noinline int fn_reclaim(const struct fn_flow *rkey, __u64 now)
{
	struct fn_conn *reply, *fwd;
	struct fn_flow fkey;
	__u64 seen;

	reply = bpf_map_lookup_elem(&fn_flows, rkey);
	if (!reply || (reply->flags & FN_CONN_FORWARD))
		return 0;
	fn_reverse(&fkey, &reply->rewrite);
	fwd = bpf_map_lookup_elem(&fn_flows, &fkey);
	/* No client entry: one being made on another CPU, or one the sweeper is deleting. */
	if (!fwd || fwd->state < FN_STATE_CLOSING)
		return 0;
	seen = fwd->last_seen > reply->last_seen ? fwd->last_seen : reply->last_seen;
	if (now < seen + FN_REUSE_NS)
		return 0;
	bpf_map_delete_elem(&fn_flows, &fkey);
	bpf_map_delete_elem(&fn_flows, rkey);
	return 1;
}

/*
 * A client's SYN to a listener: a backend from the listener's Maglev table, a
 * free local port, the two entries. 0 when made; else the counter that tells
 * why not.
 */
static __noinline int fn_connect(struct __sk_buff *skb, struct fn_pkt *p, struct fn_vip *vip)
{
	__u32 zero = 0, slot, index, range, start, port = 0, i, listener = vip->id, *cursor;
	struct fn_backend *be;
	struct fn_config *cfg;
	struct fn_flow rkey = {};
	struct fn_conn conn = {};
	struct fn_backend_counts *bc;
	__u32 *entry;
	long err = 0;

	if (vip->backends == 0 || vip->region >= FN_TABLE_REGIONS)
		return FN_CNT_NO_BACKEND;
	/* IPv6 listeners are NAT64 ones: their backends are IPv4 as every other's. */
	if (p->flow.family == AF_INET6 && !(vip->flags & FN_VIP_NAT64))
		return FN_CNT_NO_BACKEND;
	slot = fn_hash(&p->flow) % FN_TABLE_SIZE;
	index = vip->region * FN_TABLE_SIZE + slot;
	entry = bpf_map_lookup_elem(&fn_tables, &index);
	if (!entry)
		return FN_CNT_NO_BACKEND;
	index = *entry;
	be = bpf_map_lookup_elem(&fn_backends, &index);
	if (!be || be->family != AF_INET)
		return FN_CNT_NO_BACKEND;
	cfg = bpf_map_lookup_elem(&fn_config, &zero);
	if (!cfg || cfg->port_min == 0 || cfg->port_max < cfg->port_min)
		return FN_CNT_NO_PORT;

	/* The backend's entry, keyed by its flow toward the SNAT address and port. */
	rkey.saddr[0] = be->addr[0];
	rkey.daddr[0] = be->snat[0];
	rkey.sport = be->port;
	rkey.family = AF_INET;
	fn_reverse(&conn.rewrite, &p->flow);
	conn.last_seen = bpf_ktime_get_ns();
	conn.client_isn = p->seq;
	conn.backend = index;
	conn.listener = listener;
	range = cfg->port_max - cfg->port_min + 1;
	cursor = bpf_map_lookup_elem(&fn_port_cursor, &zero);
	if (!cursor)
		return FN_CNT_NO_PORT;
	/* A CPU's first connection starts it somewhere of its own, away from the other CPUs'. */
	if (*cursor == 0)
		*cursor = bpf_get_prandom_u32() | 1;
	start = *cursor;
	for (i = 0; i < FN_PORT_TRIES; i++) {
		port = cfg->port_min + (start + i) % range;
		rkey.dport = bpf_htons(port);
		err = bpf_map_update_elem(&fn_flows, &rkey, &conn, BPF_NOEXIST);
		if (err == -17 /* EEXIST */ && fn_reclaim(&rkey, conn.last_seen)) {
			fn_count(listener, FN_CNT_PORT_REUSED, 1);
			err = bpf_map_update_elem(&fn_flows, &rkey, &conn, BPF_NOEXIST);
		}
		if (err != -17)
			break;
	}
	*cursor = start + i + 1;
	if (err == -17)
		return FN_CNT_NO_PORT;
	if (err)
		return FN_CNT_TABLE_FULL;

	/* The client's entry: its flow rewritten to SNAT:port -> backend. */
	__builtin_memset(&conn.rewrite, 0, sizeof(conn.rewrite));
	fn_reverse(&conn.rewrite, &rkey);
	conn.flags = FN_CONN_FORWARD | (p->flow.family == AF_INET6 ? FN_CONN_NAT64 : 0);
	conn.state = FN_STATE_SYN;
	conn.toa_len = fn_toa(&conn, &p->flow, vip->toa);
	if (bpf_map_update_elem(&fn_flows, &p->flow, &conn, BPF_ANY)) {
		bpf_map_delete_elem(&fn_flows, &rkey);
		return FN_CNT_TABLE_FULL;
	}
	fn_count(listener, FN_CNT_CONNECTIONS, 1);
	bc = bpf_map_lookup_elem(&fn_backend_counts, &index);
	if (bc)
		bc->connections++;
	return 0;
}

SEC("tc")
int fn_ingress(struct __sk_buff *skb)
{
	struct fn_pkt p = {};
	struct fn_vip_key vkey = {};
	struct fn_flow old;
	struct fn_conn *c;
	struct fn_vip *vip;
	int refused;
	int syn = 0;

	if (fn_parse(skb, &p) < 0)
		return TC_ACT_OK;
	syn = (p.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_SYN;
	c = bpf_map_lookup_elem(&fn_flows, &p.flow);
	if (c && !(c->flags & FN_CONN_FORWARD))
		return fn_backward(skb, &p, c);
	/* A new SYN on the tuple of a connection that ended starts another. */
	if (!c || (syn && c->state >= FN_STATE_CLOSING)) {
		if (!syn)
			return TC_ACT_OK;
		__builtin_memcpy(vkey.addr, p.flow.daddr, 16);
		vkey.port = p.flow.dport;
		vkey.family = p.flow.family;
		vip = bpf_map_lookup_elem(&fn_vips, &vkey);
		if (!vip)
			return TC_ACT_OK;
		if (c) {
			fn_reverse(&old, &c->rewrite);
			bpf_map_delete_elem(&fn_flows, &old);
		}
		refused = fn_connect(skb, &p, vip);
		if (refused) {
			fn_count(vip->id, refused, 1);
			return TC_ACT_SHOT;
		}
		c = bpf_map_lookup_elem(&fn_flows, &p.flow);
		if (!c)
			return TC_ACT_SHOT;
	}
	return fn_forward(skb, &p, c);
}
