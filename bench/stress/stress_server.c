// SPDX-License-Identifier: MIT
/*
 * The server of the stress runs: accepts without end, reads each line
 * stress_client sends ("E FAMILY CLAIM_IP CLAIM_PORT TRUE_IP TRUE_PORT") and
 * answers what it saw, asking as real servers do: getpeername() for an IPv4
 * claim, getsockopt(IPPROTO_IP, 4096) for a NAT64 one.
 *
 *   ok                 the claim
 *   true               the true peer (the claim was not honoured)
 *   other IP PORT      anything else: a wrong address
 *
 *   stress_server [-6] [-H] PORT
 *
 *   -6  a dual-stack AF_INET6 listener (IPv4 peers as ::ffff:a.b.c.d); default AF_INET
 *   -H  hold: keep each connection, answer every further line, close on the
 *       client's close; default: close after the first answer
 *
 * On SIGTERM or SIGINT prints "served N ok N true N other N" and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../../bpf/receiver.h"
#include "stress.h"

struct conn {
	int fd;
	int len;
	char line[160];
};

static volatile sig_atomic_t stopping;
static long served, ok, true_peer, other;

static void stop(int signal)
{
	(void)signal;
	stopping = 1;
}

/* What this connection's peer is, as a server asks for it; writes the answer line. */
static void answer(int fd, const char *line, char *reply, size_t size)
{
	char claim_ip[64], true_ip[64], seen_ip[INET6_ADDRSTRLEN];
	int family, claim_port, true_port, seen_port;

	if (sscanf(line, "E %d %63s %d %63s %d", &family, claim_ip, &claim_port, true_ip, &true_port) != 5) {
		snprintf(reply, size, "other unparsable 0\n");
		return;
	}
	struct toa_nat64_peer peer;
	socklen_t len = sizeof(peer);
	if (family == 6 && getsockopt(fd, IPPROTO_IP, TOA_SO_GET_LOOKUP, &peer, &len) == 0) {
		inet_ntop(AF_INET6, peer.saddr, seen_ip, sizeof(seen_ip));
		seen_port = ntohs(peer.sport);
	} else {
		struct sockaddr_storage addr;
		len = sizeof(addr);
		getpeername(fd, (struct sockaddr *)&addr, &len);
		address_text(&addr, seen_ip, sizeof(seen_ip), &seen_port);
	}
	if (!strcmp(seen_ip, claim_ip) && seen_port == claim_port)
		snprintf(reply, size, "ok\n"), ok++;
	else if (!strcmp(seen_ip, true_ip) && seen_port == true_port)
		snprintf(reply, size, "true\n"), true_peer++;
	else
		snprintf(reply, size, "other %s %d\n", seen_ip, seen_port), other++;
	served++;
}

int main(int argc, char **argv)
{
	int dual = 0, hold = 0, opt, one = 1, zero = 0;

	while ((opt = getopt(argc, argv, "6H")) != -1) {
		switch (opt) {
		case '6': dual = 1; break;
		case 'H': hold = 1; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, stop);
	signal(SIGINT, stop);
	signal(SIGPIPE, SIG_IGN);

	int port = atoi(argv[optind]);
	int listener = socket(dual ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_storage bind_addr;
	memset(&bind_addr, 0, sizeof(bind_addr));
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (dual) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&bind_addr;
		setsockopt(listener, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&bind_addr;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
	}
	if (bind(listener, (struct sockaddr *)&bind_addr, sizeof(bind_addr)) || listen(listener, 4096)) {
		perror("listen");
		return 1;
	}
	printf("listening on port %d\n", port);
	int epfd = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, events[256];
	epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev);

	while (!stopping) {
		int n = epoll_wait(epfd, events, 256, 500);
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					struct epoll_event cev = { .events = EPOLLIN, .data.ptr = c };
					epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev);
				}
				if (errno == EMFILE || errno == ENFILE) {
					perror("accept");
					return 1;
				}
				continue;
			}
			ssize_t r = read(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				close(c->fd);
				free(c);
				continue;
			}
			c->len += r;
			c->line[c->len] = 0;
			char *end = memchr(c->line, '\n', c->len);
			if (!end) {
				if (c->len == sizeof(c->line) - 1)
					c->len = 0; /* not our client: forget the bytes */
				continue;
			}
			char reply[128];
			answer(c->fd, c->line, reply, sizeof(reply));
			if (write(c->fd, reply, strlen(reply)) < 0 || !hold) {
				close(c->fd);
				free(c);
				continue;
			}
			c->len = 0;
		}
	}
	printf("served %ld ok %ld true %ld other %ld\n", served, ok, true_peer, other);
	return 0;
usage:
	fprintf(stderr, "usage: %s [-6] [-H] PORT\n", argv[0]);
	return 2;
}
