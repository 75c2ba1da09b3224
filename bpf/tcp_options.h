/* SPDX-License-Identifier: MIT */
/*
 * The TOA option parser, shared by the receiver's sock_ops program and the
 * XDP entry that BPF_PROG_TEST_RUN drives with table fixtures.
 *
 * Verifier notes: the header is copied with constant offsets
 * into a buffer of 64 bytes and read back with indexes masked by 63; the walk
 * has a fixed number of rounds and masks its offset, which is what verifiers
 * as old as 5.10 can follow. What it costs the verifier (instructions
 * processed, 6.18): 338k when each caller's copy of the walk was checked with
 * that caller's state, 15k since the walk is one global function that keeps
 * its position in memory (toa_parse_slot, toa_walk).
 */
#ifndef TOA_TCP_OPTIONS_H
#define TOA_TCP_OPTIONS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "receiver.h"

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_TOA_TENCENT4 200
#define TCPOPT_TOA_V6 253   /* Tencent 253/20, UCloud 253/8 */
#define TCPOPT_EXP 254      /* RFC 6994: DPVS 254/8, 254/20; also TCP Fast Open */
#define TCPOPT_TOA_ALIBABA 28
#define TCPOPT_TFO_MAGIC 0xF989
#define TOA_ALIBABA_VERSION 1

#define TOA_NOT_TOA (-1)
#define TOA_BROKEN (-2)

/* The per-CPU scratch space the parser's buffer lives in (struct toa_scratch). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct toa_scratch);
} toa_scratch SEC(".maps");

/*
 * Takes a free slot of this CPU's scratch space: its index, or -1 when none
 * is free. A program that interrupts another on this CPU (softirq over socket
 * backlog processing) finds the other's slot taken and uses the next. Each
 * program marks its own slot and clears it, so no interleaving can leave a
 * slot taken once its programs have left (a shared depth count could: two
 * tasks preempting each other lost an update, and it wrapped); atomic
 * exchanges would need 5.12. Two tasks that take one slot at once are caught
 * afterwards by toa_fingerprint.
 */
static __always_inline int toa_scratch_enter(struct toa_scratch **scratch)
{
	__u32 zero = 0;
	struct toa_scratch *s = bpf_map_lookup_elem(&toa_scratch, &zero);
	int i;

	*scratch = s;
	if (!s)
		return -1;
#pragma unroll
	for (i = 0; i < TOA_SCRATCH_SLOTS; i++) {
		if (!s->busy[i]) {
			s->busy[i] = 1;
			return i;
		}
	}
	return -1;
}

static __always_inline void toa_scratch_leave(struct toa_scratch *s, int slot)
{
	s->busy[slot & (TOA_SCRATCH_SLOTS - 1)] = 0;
}

#define TOA_BYTE(h, i) (((const __u8 *)(h)->words)[(i) & 63])

/*
 * Copies the TCP header at `src` (up to `end`, at most `avail` bytes) into
 * `h`, 4 bytes at a time, zeroing the rest; returns the number of bytes copied
 * and their fingerprint (see toa_fingerprint).
 */
static __always_inline __u32 toa_copy_header(const __u32 *src, const void *end, __u32 avail,
					    struct toa_tcp_header *h, __u32 *fingerprint)
{
	__u32 copied = 0, x = 0;
	int i;

#pragma unroll
	for (i = 0; i < 16; i++)
		h->words[i] = 0;
#pragma unroll
	for (i = 0; i < TOA_TCP_HEADER_MAX / 4; i++) {
		if ((const void *)(src + i + 1) > end || (__u32)(i + 1) * 4 > avail)
			break;
		h->words[i] = src[i];
		x ^= src[i];
		copied += 4;
	}
	*fingerprint = x;
	return copied;
}

/*
 * The XOR of the buffer's words. toa_copy_header returns the same of what it
 * copied: a parse in process context can be preempted and its slot taken by
 * another task on the same CPU (the depth count is not atomic on 5.10), and a
 * result read from a buffer that changed under it is not used. (A compare
 * loop would cost the verifier four times the states.)
 */
static __always_inline __u32 toa_fingerprint(const struct toa_tcp_header *h)
{
	__u32 x = 0;
	int i;

#pragma unroll
	for (i = 0; i < 16; i++)
		x ^= h->words[i];
	return x;
}

/* The layout of a (kind, length) pair at `off`, TOA_NOT_TOA, or TOA_BROKEN. */
static __always_inline int toa_layout_of(const struct toa_tcp_header *h, __u32 off, __u8 kind, __u8 len)
{
	switch (kind) {
	case TCPOPT_TOA_TENCENT4:
		return len == 8 ? TOA_LAYOUT_TENCENT4 : TOA_BROKEN;
	case TCPOPT_TOA_V6:
		return len == 20 ? TOA_LAYOUT_TENCENT6 : len == 8 ? TOA_LAYOUT_UCLOUD4 : TOA_BROKEN;
	case TCPOPT_EXP:
		/* Shared with other experiments: a TFO cookie is not a TOA, and a
		 * length no TOA has belongs to someone else. */
		if (len >= 4 && TOA_BYTE(h, off + 2) == (TCPOPT_TFO_MAGIC >> 8) &&
		    TOA_BYTE(h, off + 3) == (TCPOPT_TFO_MAGIC & 0xff))
			return TOA_NOT_TOA;
		return len == 8 ? TOA_LAYOUT_DPVS4 : len == 20 ? TOA_LAYOUT_DPVS6 : TOA_NOT_TOA;
	case TCPOPT_TOA_ALIBABA:
		/* Kind 28 is also the User Timeout Option (length 4); its version
		 * byte is checked only when the layout is honoured (toa_parse). */
		return len == 7 ? TOA_LAYOUT_ALIBABA_CDN4 : len == 19 ? TOA_LAYOUT_ALIBABA_CDN6 : TOA_NOT_TOA;
	}
	return TOA_NOT_TOA;
}

static __always_inline int toa_layout_is_v6(__u8 layout)
{
	return layout == TOA_LAYOUT_TENCENT6 || layout == TOA_LAYOUT_DPVS6 ||
	       layout == TOA_LAYOUT_ALIBABA_CDN6;
}

/*
 * Whether the client address at `addr` of `h` (IPv6 when `v6`, else IPv4) may
 * be believed (docs/receiver.md, "Parsing rules"; ToaAddress.IsPlausibleClient
 * is the same rule in C#). IPv4: not 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 or
 * 255.255.255.255, sources Linux itself drops as martian. IPv6: not ::/96
 * (unspecified, loopback, IPv4-compatible), ::ffff:0:0/96 (IPv4-mapped) or
 * ff00::/8 (multicast). Read from the header before it is decoded, and ORed
 * rather than branched on: fewer live values, so less stack (5.10 counts every
 * frame's against 512 bytes) and fewer states to verify.
 */
static __always_inline int toa_is_client(const struct toa_tcp_header *h, __u32 addr, int v6)
{
	__u8 first = TOA_BYTE(h, addr), high = 0;
	int i;

	if (!v6)
		return first != 0 && first != 127 && (first & 0xf0) != 0xe0 &&
		       (first & TOA_BYTE(h, addr + 1) & TOA_BYTE(h, addr + 2) & TOA_BYTE(h, addr + 3)) != 0xff;
#pragma unroll
	for (i = 0; i < 10; i++)
		high |= TOA_BYTE(h, addr + i);
	if (!high && ((TOA_BYTE(h, addr + 10) | TOA_BYTE(h, addr + 11)) == 0 ||
		      (TOA_BYTE(h, addr + 10) & TOA_BYTE(h, addr + 11)) == 0xff))
		return 0;
	return first != 0xff;
}

/* Reads the address (and port) of a TOA of `layout` at `off` into `r`. */
static __always_inline void toa_decode(const struct toa_tcp_header *h, __u32 off, int layout,
				       struct toa_parse_result *r)
{
	__u8 *port = (__u8 *)&r->port;
	__u32 addr = off + 4; /* kind, length, port */
	int i;

	if (layout == TOA_LAYOUT_ALIBABA_CDN4 || layout == TOA_LAYOUT_ALIBABA_CDN6) {
		addr = off + 3; /* kind, length, version */
		r->port = 0;
	} else {
		port[0] = TOA_BYTE(h, off + 2);
		port[1] = TOA_BYTE(h, off + 3);
	}
	if (toa_layout_is_v6(layout)) {
#pragma unroll
		for (i = 0; i < 16; i++)
			r->client[i] = TOA_BYTE(h, addr + i);
	} else {
#pragma unroll
		for (i = 0; i < 10; i++)
			r->client[i] = 0;
		r->client[10] = 0xff;
		r->client[11] = 0xff;
#pragma unroll
		for (i = 0; i < 4; i++)
			r->client[12 + i] = TOA_BYTE(h, addr + i);
	}
	r->layout = layout;
}

/*
 * Walks the options of the header in `h` (`avail` bytes of it exist) and
 * stores the verdict in r->verdict, by docs/receiver.md's "Parsing rules"
 * (TcpOptions.Scan in C# applies the same; a differential test holds them
 * together). Only layouts in `formats` count as TOA. Strict: a truncated
 * option, a length of 0 or 1, a length past the header, kind 200 or 253 with a
 * length no layout has, a second honoured TOA, or an honoured TOA whose
 * Alibaba version is not 1 or whose client is not one (toa_is_client) makes
 * the whole header MALFORMED, and nothing in it is used. Options after an
 * end-of-list are not read. `w` holds the walk's position (see toa_walk):
 * volatile, or clang would keep it in registers after all.
 */
static __always_inline int toa_parse(const struct toa_tcp_header *h, __u32 avail, __u32 formats,
				     struct toa_parse_result *r, volatile struct toa_walk *w)
{
	__u32 len = (TOA_BYTE(h, 12) >> 4) * 4, off;
	int i, found;

	r->verdict = TOA_VERDICT_MALFORMED;
	if (len < 20 || len > avail || len > TOA_TCP_HEADER_MAX)
		return r->verdict;
	w->next = 20;
	w->toa = 0;
	/* Every option takes a byte at least: 40 rounds reach the end. */
	for (i = 0; i < TCP_OPTION_SPACE; i++) {
		__u8 kind, olen;
		int layout;

		off = w->next & 63;
		if (off >= len)
			break;
		kind = TOA_BYTE(h, off);
		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			w->next = off + 1;
			continue;
		}
		if (off + 2 > len)
			return r->verdict;
		olen = TOA_BYTE(h, off + 1);
		if (olen < 2 || off + olen > len)
			return r->verdict;
		layout = toa_layout_of(h, off, kind, olen);
		if (layout == TOA_BROKEN)
			return r->verdict;
		if (layout >= 0 && (formats & (1u << layout))) {
			if (w->toa)
				return r->verdict;
			w->toa = off;
			w->layout = layout;
		}
		w->next = off + olen;
	}
	/* Decoded once, after the walk, from what the walk left in memory. */
	off = w->toa & 63;
	if (!off) {
		r->verdict = TOA_VERDICT_NONE;
		return r->verdict;
	}
	found = w->layout;
	if (found == TOA_LAYOUT_ALIBABA_CDN4 || found == TOA_LAYOUT_ALIBABA_CDN6) {
		if (TOA_BYTE(h, off + 2) != TOA_ALIBABA_VERSION ||
		    !toa_is_client(h, off + 3, found == TOA_LAYOUT_ALIBABA_CDN6))
			return r->verdict;
	} else if (!toa_is_client(h, off + 4, toa_layout_is_v6(found))) {
		return r->verdict;
	}
	toa_decode(h, off, found, r);
	r->verdict = TOA_VERDICT_FOUND;
	return r->verdict;
}

/*
 * Parses the header in scratch slot `slot` of this CPU with the layouts in
 * `formats` (`avail` bytes of it exist) into the slot's result; returns the
 * verdict. `fingerprint` is the one toa_copy_header gave: a header that
 * changed under the parse (see toa_fingerprint) has no verdict but NONE.
 *
 * A global function: the verifier checks the walk once, whatever calls it,
 * instead of once per call site with each caller's state. Scalar arguments only:
 * before 5.12 a global function takes no pointers but the context. Callers
 * must use the verdict it returns: clang leaves an unused return value
 * undefined, and the verifier refuses the register it leaves behind.
 */
__noinline int toa_parse_slot(__u32 slot, __u32 avail, __u32 formats, __u32 fingerprint)
{
	__u32 zero = 0;
	struct toa_scratch *s = bpf_map_lookup_elem(&toa_scratch, &zero);
	struct toa_parse_result *r;
	int verdict;

	if (!s)
		return TOA_VERDICT_NONE;
	slot &= TOA_SCRATCH_SLOTS - 1;
	r = &s->results[slot];
	verdict = toa_parse(&s->slots[slot], avail, formats, r, &s->walks[slot]);
	if (toa_fingerprint(&s->slots[slot]) != fingerprint)
		verdict = r->verdict = TOA_VERDICT_NONE;
	return verdict;
}

#endif
