// SPDX-License-Identifier: MIT
/*
 * A TCP echo server written the way the load balancer's documentation tells
 * real servers to ask for the client: getsockopt(IPPROTO_IP, TOA_SO_GET_LOOKUP)
 * for a NAT64 (IPv6) client first, else getpeername(). It works unchanged with
 * toa.ko and with `toa load`.
 *
 *   toa_server [-6] [-n COUNT] [-d] [-r PIN] PORT
 *
 *   -6        listen on a dual-stack AF_INET6 socket (IPv4 clients as ::ffff:a.b.c.d)
 *   -n COUNT  serve COUNT connections, then exit (default: forever)
 *   -d        read the first data before asking (a TOA carried by data only)
 *   -r PIN    also read this connection's record from the receiver: getsockopt
 *             TOA_SO_GET_RECORD, else (a kernel before 5.18 answers "none" with
 *             ENOPROTOOPT) its pinned socket storage map (read-only, works
 *             without root), e.g. /sys/fs/bpf/toa/records
 *
 * For each connection it prints what accept() returned, what the lookups
 * returned, then echoes the bytes back until the client closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
#include "../../bpf/receiver.h"

/* What the documentation defines; struct toa_nat64_peer comes from receiver.h. */
enum {
	TOA_BASE_CTL = 4096,
	TOA_SO_SET_MAX = TOA_BASE_CTL,
	TOA_SO_GET_MAX = TOA_BASE_CTL,
};

static void print_address(const char *label, const struct sockaddr_storage *addr)
{
	char text[INET6_ADDRSTRLEN];

	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
		inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
		printf("%s v4 [%s]:%d\n", label, text, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
		printf("%s v6 [%s]:%d\n", label, text, ntohs(in6->sin6_port));
	}
}

static void lookup_real_client(int client_fd)
{
	struct toa_nat64_peer peer;
	socklen_t len = sizeof(peer);
	char from[INET6_ADDRSTRLEN];

	if (getsockopt(client_fd, IPPROTO_IP, TOA_SO_GET_LOOKUP, &peer, &len) == 0) {
		inet_ntop(AF_INET6, peer.saddr, from, sizeof(from));
		printf("real client v6 [%s]:%d\n", from, ntohs(peer.sport));
		return;
	}
	printf("getsockopt %d: %s (errno %d)\n", TOA_SO_GET_LOOKUP, strerror(errno), errno);

	struct sockaddr_storage addr;
	len = sizeof(addr);
	if (getpeername(client_fd, (struct sockaddr *)&addr, &len) == 0)
		print_address("real client", &addr);
}

static void print_found(const struct toa_record *record)
{
	char text[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, record->client, text, sizeof(text));
	printf("record client [%s]:%d layout %d source %d\n", text, ntohs(record->client_port),
	       record->layout, record->source);
}

/* The receiver's record for this socket: asked for, else read with the socket fd as the key. */
static void print_record(const char *pin, int client_fd)
{
	union bpf_attr attr;
	struct toa_record record;
	socklen_t len = sizeof(record);
	int map_fd;

	if (getsockopt(client_fd, IPPROTO_IP, TOA_SO_GET_RECORD, &record, &len) == 0 && len == sizeof(record)) {
		print_found(&record);
		return;
	}
	if (errno != ENOPROTOOPT) {
		printf("record: none (%s)\n", strerror(errno));
		return;
	}
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uint64_t)(uintptr_t)pin;
	attr.file_flags = BPF_F_RDONLY;
	map_fd = syscall(__NR_bpf, BPF_OBJ_GET, &attr, sizeof(attr));
	if (map_fd < 0) {
		printf("record: open %s: %s\n", pin, strerror(errno));
		return;
	}
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map_fd;
	attr.key = (uint64_t)(uintptr_t)&client_fd;
	attr.value = (uint64_t)(uintptr_t)&record;
	if (syscall(__NR_bpf, BPF_MAP_LOOKUP_ELEM, &attr, sizeof(attr)) == 0) {
		print_found(&record);
	} else {
		printf("record: none (%s)\n", strerror(errno));
	}
	close(map_fd);
}

static void echo(int fd, char *buffer, ssize_t pending)
{
	ssize_t n = pending;

	do {
		if (n > 0 && write(fd, buffer, n) != n)
			return;
	} while ((n = read(fd, buffer, 4096)) > 0);
}

int main(int argc, char **argv)
{
	int dual_stack = 0, read_first = 0, count = -1, opt, one = 1, zero = 0;
	const char *record_pin = NULL;
	char buffer[4096];

	while ((opt = getopt(argc, argv, "6n:dr:")) != -1) {
		switch (opt) {
		case '6': dual_stack = 1; break;
		case 'n': count = atoi(optarg); break;
		case 'd': read_first = 1; break;
		case 'r': record_pin = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-6] [-n COUNT] [-d] [-r PIN] PORT\n", argv[0]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s [-6] [-n COUNT] [-d] [-r PIN] PORT\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	int port = atoi(argv[optind]);
	int listenfd = socket(dual_stack ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_storage bind_addr;
	memset(&bind_addr, 0, sizeof(bind_addr));
	if (dual_stack) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&bind_addr;
		setsockopt(listenfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_any;
		in6->sin6_port = htons(port);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&bind_addr;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_ANY);
		in->sin_port = htons(port);
	}
	if (bind(listenfd, (struct sockaddr *)&bind_addr, sizeof(bind_addr)) != 0 || listen(listenfd, 128) != 0) {
		perror("listen");
		return 1;
	}
	printf("listening on port %d (%s)\n", port, dual_stack ? "dual-stack" : "IPv4");

	for (; count != 0; count > 0 ? count-- : 0) {
		struct sockaddr_storage caddr;
		socklen_t length = sizeof(caddr);
		ssize_t pending = 0;
		int client_fd = accept(listenfd, (struct sockaddr *)&caddr, &length);

		if (client_fd < 0) {
			perror("accept");
			return 1;
		}
		print_address("accepted", &caddr);
		if (read_first)
			pending = read(client_fd, buffer, sizeof(buffer));
		lookup_real_client(client_fd);
		if (record_pin)
			print_record(record_pin, client_fd);
		echo(client_fd, buffer, pending);
		close(client_fd);
		printf("closed\n");
	}
	close(listenfd);
	return 0;
}
