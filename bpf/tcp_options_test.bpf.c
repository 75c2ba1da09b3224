// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The option parser behind an XDP entry, so BPF_PROG_TEST_RUN can drive it
 * with table fixtures (sock_ops programs have no test run). The packet is a
 * struct toa_parse_fixture; the result is written back into it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "tcp_options.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("xdp")
int toa_parse_fixture(struct xdp_md *ctx)
{
	struct toa_parse_fixture *f = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct toa_scratch *scratch;
	__u32 copied, fingerprint;
	int slot, verdict;

	if ((void *)(f + 1) > end)
		return XDP_ABORTED;
	slot = toa_scratch_enter(&scratch);
	if (slot < 0)
		return XDP_ABORTED;
	copied = toa_copy_header(f->header.words, end, f->header_len, &scratch->slots[slot], &fingerprint);
	verdict = toa_parse_slot(slot, copied, f->formats, fingerprint);
	f->result = scratch->results[slot];
	toa_scratch_leave(scratch, slot);
	return verdict == f->result.verdict ? XDP_PASS : XDP_ABORTED;
}
