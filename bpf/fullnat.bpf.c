// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The packet engine's datapath (see fullnat.h): one tc ingress program on every
 * interface that carries a listener's address or a route to its backends.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FN_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct fn_backend_counts);
} fn_backend_counts SEC(".maps");

SEC("tc")
int fn_ingress(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}
