// SPDX-License-Identifier: MIT
// A program every verifier rejects: it reads memory through a number taken for a pointer.
// Tests load it to show that a rejection reaches the test output in the verifier's own words.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("sockops")
int toa_rejected(struct bpf_sock_ops *skops)
{
	__u32 *where = (__u32 *)(unsigned long)skops->remote_port;

	return *where;
}
