# SPDX-License-Identifier: MIT
# Sourced by memory.sh and remote.sh: two hosts, clients (c, 10.202.1.1) and a server
# (s, 10.202.1.2), network namespaces joined by a veth link; the clients' cgroup has the sender
# (bpf/sender.bpf.c) attached, so stress_client writes the TOAs it is told to; two server cgroups,
# one with the receiver loaded (honouring TOAs in s) and one without. Everything is removed on exit.
# Needs: root, $root (the checkout). Sets: toa, work, tag, client_cg, with_cg, without_cg, pins.
if [ -z "${TOA:-}" ]; then "$root/toa" --version >/dev/null; fi
toa=${TOA:-$root/artifacts/toa/toa}
work=$(mktemp -d /tmp/toa-bench-XXXXXX)
for program in stress_client stress_server; do
  gcc -O2 -Wall -Wextra -Werror -o "$work/$program" "$root/bench/stress/$program.c" || exit 1
done
clang -O2 -g -target bpf -mcpu=v3 -Wall -Werror -I/usr/include/"$(gcc -print-multiarch)" -I"$root/bpf" \
  -c "$root/bpf/sender.bpf.c" -o "$work/sender.bpf.o" || exit 1

tag=toa-bench-$$
cgroot=$(findmnt -t cgroup2 -n -o TARGET | head -1)
client_cg="$cgroot/$tag-client"; with_cg="$cgroot/$tag-with"; without_cg="$cgroot/$tag-without"
pins=/sys/fs/bpf/$tag; sender_pins=/sys/fs/bpf/$tag-sender
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  for h in c s; do ip netns del "$tag-$h" 2>/dev/null; done
  "$toa" unload --pin-dir "$pins" >/dev/null 2>&1
  # Removing the clients' cgroup releases the sender bpftool attached to it.
  for cg in "$client_cg" "$with_cg" "$without_cg"; do
    for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
  done
  rm -rf "$sender_pins" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for h in c s; do
  ip netns add "$tag-$h"; ip -n "$tag-$h" link set lo up
  ip netns exec "$tag-$h" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1 \
    net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192
done
ip link add eth0 netns "$tag-c" type veth peer name eth0 netns "$tag-s"
ip -n "$tag-c" addr add 10.202.1.1/24 dev eth0; ip -n "$tag-s" addr add 10.202.1.2/24 dev eth0
ip -n "$tag-c" link set eth0 up; ip -n "$tag-s" link set eth0 up
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mkdir -p "$client_cg" "$with_cg" "$without_cg" "$sender_pins"
bpftool prog loadall "$work/sender.bpf.o" "$sender_pins/progs" pinmaps "$sender_pins/maps" || exit 1
bpftool cgroup attach "$client_cg" sock_ops pinned "$sender_pins/progs/toa_sender" || exit 1
bpftool cgroup attach "$client_cg" setsockopt pinned "$sender_pins/progs/toa_attach" || exit 1
"$toa" load --cgroup "$with_cg" --pin-dir "$pins" --netns "/var/run/netns/$tag-s" >/dev/null || exit 1

# run_in HOST CGROUP COMMAND...: execs COMMAND in a host's namespace and a cgroup (nsenter keeps /sys whole).
run_in() { local host=$1 cg=$2; shift 2; exec sh -c 'ns=$1; shift; echo $$ > "$0/cgroup.procs" && exec nsenter --net="/var/run/netns/$ns" "$@"' "$cg" "$tag-$host" "$@"; }
wait_listen() { for _ in $(seq 100); do ip netns exec "$tag-s" ss -Hltn "sport = :$1" | grep -q . && return; sleep 0.1; done; }
# What stress_client's -m MODE means, for the tables.
mode_text() { case $1 in v4) echo "carrying 200/8 (IPv4 client)" ;; v6) echo "carrying 253/20 (NAT64 client)" ;; *) echo "carrying no TOA" ;; esac; }
