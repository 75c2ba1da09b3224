// SPDX-License-Identifier: MIT
/*
 * Many TOA connections from one process, for the stress runs. Each connection
 * claims a client of its own through the sender (bpf/sender.bpf.c, attached to
 * the caller's cgroup): setsockopt(TCP_NODELAY, struct toa_attach) before
 * connect(). Once connected it sends one line saying what the server should
 * see, and the server (stress_server) answers how it judged it:
 *
 *   E FAMILY CLAIM_IP CLAIM_PORT TRUE_IP TRUE_PORT\n  ->  ok | true | other IP PORT
 *
 * "ok": the server saw the claim; "true": it saw the true peer (the claim was
 * not honoured); "other": anything else, a wrong address.
 *
 *   stress_client -t ADDR -p PORT [-p PORT...] -n COUNT [-c CONCURRENT] [-m MODE]
 *                 [-b LOCAL_ADDR]... [-P PLACEMENT] [-o OFFSET] [-T SECONDS] [-H]
 *
 *   -m v4|v6|mix|self  the claim: an IPv4 client in 200/8, a NAT64 client in 253/20,
 *                      alternately, or none attached and the own address expected
 *                      (a balancer writes it). Default v4.
 *   -P syn|ack|data    where the sender puts the option (repeatable). Default ack.
 *   -o OFFSET          first claim index, so processes claim distinct clients.
 *   -H                 hold: keep the connections open; each line "check" on stdin
 *                      sends every connection's line again and prints the tally;
 *                      end of stdin closes them all.
 *   -T SECONDS         give up after this long (default 600).
 *
 * Prints "done sent N connected N ok N true N other N failed N" (and after
 * each check "check ..."), and exits 0 when every connection was answered.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "../../bpf/sender.h"
#include "stress.h"

enum state { CLOSED, CONNECTING, ANSWERING, HELD };

struct conn {
	int fd;
	enum state state;
	long index;
	char line[160];
	char reply[96];
	int reply_len;
};

struct tally {
	long ok, true_peer, other, failed;
};

static struct sockaddr_storage targets[16], binds[64];
static socklen_t target_len;
static int target_count, bind_count, placement, hold, epfd;
static const char *mode = "v4";
static long offset;
static struct tally tally, check;
static long answered_in_check, held_count;
static struct conn *conns;
static volatile sig_atomic_t stopping;

static void stop(int signal)
{
	(void)signal;
	stopping = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_address(const char *text, int port, struct sockaddr_storage *out, socklen_t *len)
{
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *in = (struct sockaddr_in *)out;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

/* The claim of connection INDEX: distinct for 2^17 indexes in each family. */
static int claim_family(long index)
{
	if (!strcmp(mode, "v6"))
		return 6;
	if (!strcmp(mode, "mix"))
		return index % 2 ? 6 : 4;
	return 4;
}

static void claim(long index, int family, uint8_t *address, uint16_t *port)
{
	uint32_t n = (uint32_t)(index & 0x1ffff);
	*port = (uint16_t)(1 + index % 65535);
	if (family == 4) {
		uint32_t v4 = htonl(0xc6120000u + n); /* 198.18.0.0/15 */
		memcpy(address, &v4, 4);
	} else {
		static const uint8_t prefix[12] = { 0x20, 0x01, 0x0d, 0xb8 }; /* 2001:db8::/96 */
		uint32_t low = htonl(n);
		memcpy(address, prefix, 12);
		memcpy(address + 12, &low, 4);
	}
}

static void attach(int fd, long index)
{
	struct toa_attach a;
	uint8_t address[16];
	uint16_t port;
	int family = claim_family(index);

	memset(&a, 0, sizeof(a));
	a.nodelay = 1;
	a.magic = TOA_ATTACH_MAGIC;
	claim(index, family, address, &port);
	uint8_t *o = a.options;
	o[0] = family == 4 ? 200 : 253;
	o[1] = family == 4 ? 8 : 20;
	port = htons(port);
	memcpy(o + 2, &port, 2);
	memcpy(o + 4, address, family == 4 ? 4 : 16);
	a.option_count = 1;
	a.total_len = o[1];
	a.placement = placement ? placement : TOA_PLACE_ACK;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &a, sizeof(a)) != 0) {
		perror("setsockopt toa_attach (is the sender attached to this cgroup?)");
		exit(1);
	}
}

static void make_line(struct conn *c)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	char true_ip[INET6_ADDRSTRLEN], claim_ip[INET6_ADDRSTRLEN];
	int true_port;

	getsockname(c->fd, (struct sockaddr *)&local, &len);
	address_text(&local, true_ip, sizeof(true_ip), &true_port);
	if (!strcmp(mode, "self")) {
		/* Through a balancer: the claim is this client itself, the true peer unknown. */
		snprintf(c->line, sizeof(c->line), "E %d %s %d - 0\n", local.ss_family == AF_INET ? 4 : 6, true_ip, true_port);
		return;
	}
	uint8_t address[16];
	uint16_t port;
	int family = claim_family(offset + c->index);
	claim(offset + c->index, family, address, &port);
	inet_ntop(family == 4 ? AF_INET : AF_INET6, address, claim_ip, sizeof(claim_ip));
	snprintf(c->line, sizeof(c->line), "E %d %s %d %s %d\n", family, claim_ip, port, true_ip, true_port);
}

static void close_conn(struct conn *c)
{
	if (c->state != CLOSED) {
		close(c->fd);
		c->state = CLOSED;
	}
}

static int open_conn(struct conn *c, long index)
{
	const struct sockaddr_storage *target = &targets[index % target_count];
	int one = 1;

	c->index = index;
	c->reply_len = 0;
	c->fd = socket(target->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		perror("socket");
		return -1;
	}
	if (bind_count) {
		const struct sockaddr_storage *local = &binds[index % bind_count];
		setsockopt(c->fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (const struct sockaddr *)local,
			 local->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6))) {
			perror("bind");
			exit(1);
		}
	}
	if (strcmp(mode, "self"))
		attach(c->fd, offset + index);
	if (connect(c->fd, (const struct sockaddr *)target,
		    target->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) && errno != EINPROGRESS) {
		close(c->fd);
		return -1;
	}
	c->state = CONNECTING;
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

static void judge(struct conn *c, struct tally *t)
{
	if (!strncmp(c->reply, "ok\n", 3)) {
		t->ok++;
	} else if (!strncmp(c->reply, "true\n", 5)) {
		t->true_peer++;
	} else {
		t->other++;
		if (t->other <= 5)
			fprintf(stderr, "wrong address: sent %s     server: %.*s", c->line, c->reply_len, c->reply);
	}
}

static void send_line(struct conn *c)
{
	size_t len = strlen(c->line);
	c->reply_len = 0;
	if (write(c->fd, c->line, len) != (ssize_t)len) {
		tally.failed++;
		close_conn(c);
	}
}

static void print_tally(const char *label, long sent, long connected, const struct tally *t)
{
	printf("%s sent %ld connected %ld ok %ld true %ld other %ld failed %ld\n",
	       label, sent, connected, t->ok, t->true_peer, t->other, t->failed);
}

int main(int argc, char **argv)
{
	long count = 0, concurrent = 256, sent = 0, connected = 0, done = 0;
	const char *target_text = NULL;
	int ports[16], port_count = 0, opt;
	double timeout = 600;

	while ((opt = getopt(argc, argv, "t:p:n:c:m:b:P:o:T:H")) != -1) {
		switch (opt) {
		case 't': target_text = optarg; break;
		case 'p': if (port_count < 16) ports[port_count++] = atoi(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'c': concurrent = atol(optarg); break;
		case 'm': mode = optarg; break;
		case 'b': {
			socklen_t len;
			if (bind_count == 64 || parse_address(optarg, 0, &binds[bind_count++], &len)) {
				fprintf(stderr, "-b %s: not an address (at most 64)\n", optarg);
				return 2;
			}
			break;
		}
		case 'P':
			placement |= !strcmp(optarg, "syn") ? TOA_PLACE_SYN : !strcmp(optarg, "data") ? TOA_PLACE_DATA : TOA_PLACE_ACK;
			break;
		case 'o': offset = atol(optarg); break;
		case 'T': timeout = atof(optarg); break;
		case 'H': hold = 1; break;
		default: goto usage;
		}
	}
	if (!target_text || !port_count || count <= 0)
		goto usage;
	for (int i = 0; i < port_count; i++, target_count++)
		if (parse_address(target_text, ports[i], &targets[i], &target_len)) {
			fprintf(stderr, "-t %s: not an address\n", target_text);
			return 2;
		}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, stop); /* stop early, still printing the tally */
	signal(SIGPIPE, SIG_IGN);
	if (hold)
		concurrent = count < concurrent ? count : concurrent;
	epfd = epoll_create1(0);
	conns = calloc(hold ? count : concurrent, sizeof(*conns));
	if (hold) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
		epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
	}
	/* Churn reuses a slot per connection in flight; hold keeps a slot per connection. */
	long in_flight = 0, next_slot = 0;
	for (; sent < concurrent && sent < count; sent++, in_flight++)
		if (open_conn(&conns[hold ? sent : next_slot++], sent))
			tally.failed++, in_flight--;
	double deadline = now() + timeout;
	int stdin_open = hold, checking = 0;
	struct epoll_event events[256];

	while (!stopping && now() < deadline) {
		if (!hold && done + tally.failed >= count)
			break;
		if (hold && !stdin_open)
			break;
		int n = epoll_wait(epfd, events, 256, 1000);
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;
			if (!c) {
				char command[64];
				ssize_t r = read(0, command, sizeof(command));
				if (r <= 0) {
					stdin_open = 0;
				} else if (!checking) {
					memset(&check, 0, sizeof(check));
					answered_in_check = 0;
					checking = 1;
					for (long j = 0; j < sent; j++)
						if (conns[j].state == HELD) {
							conns[j].state = ANSWERING;
							send_line(&conns[j]);
						}
					if (held_count == 0) {
						print_tally("check", sent, held_count, &check);
						checking = 0;
					}
				}
				continue;
			}
			if (c->state == HELD) {
				/* A held connection the server closed, or bytes nobody asked for. */
				char ignored[256];
				ssize_t r = read(c->fd, ignored, sizeof(ignored));
				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					tally.failed++;
					held_count--;
					close_conn(c);
				}
				continue;
			}
			if (c->state == CONNECTING) {
				int error = 0;
				socklen_t len = sizeof(error);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
				if (error) {
					tally.failed++;
					close_conn(c);
				} else {
					connected++;
					make_line(c);
					c->state = ANSWERING;
					struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
					epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
					send_line(c);
				}
			} else if (c->state == ANSWERING) {
				ssize_t r = read(c->fd, c->reply + c->reply_len, sizeof(c->reply) - 1 - c->reply_len);
				if (r <= 0) {
					if (r < 0 && errno == EAGAIN)
						continue;
					tally.failed++;
					if (checking)
						check.failed++, answered_in_check++, held_count--;
					close_conn(c);
				} else {
					c->reply_len += r;
					if (!memchr(c->reply, '\n', c->reply_len))
						continue;
					if (checking) {
						judge(c, &check);
						answered_in_check++;
						c->state = HELD;
					} else {
						judge(c, &tally);
						done++;
						if (hold) {
							c->state = HELD;
							held_count++;
						} else {
							close_conn(c);
						}
					}
				}
			}
			if (checking && answered_in_check >= held_count) {
				print_tally("check", sent, held_count, &check);
				checking = 0;
			}
			if (c->state == CLOSED && !hold) {
				in_flight--;
				if (sent < count) {
					if (open_conn(c, sent++))
						tally.failed++;
					else
						in_flight++;
				}
			}
		}
		if (hold)
			for (; sent < count && sent - done - tally.failed < concurrent; sent++)
				if (open_conn(&conns[sent], sent))
					tally.failed++;
		if (hold && done + tally.failed == count && sent == count) {
			static int reported;
			if (!reported++)
				print_tally("held", sent, held_count, &tally);
		}
	}
	print_tally("done", sent, connected, &tally);
	return done == count && tally.failed == 0 ? 0 : 1;
usage:
	fprintf(stderr, "usage: %s -t ADDR -p PORT [-p PORT...] -n COUNT [-c CONCURRENT] [-m v4|v6|mix|self] "
		"[-b LOCAL_ADDR]... [-P syn|ack|data] [-o OFFSET] [-T SECONDS] [-H]\n", argv[0]);
	return 2;
}
