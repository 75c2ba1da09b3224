// SPDX-License-Identifier: MIT
/*
 * A backend for bench/lb's namespace mode: one epoll loop, two listeners on
 * every address of its namespace.
 *
 *   lb_server ANSWER_PORT SINK_PORT
 *
 * ANSWER_PORT answers the first thing a connection sends with a small HTTP
 * response and closes; SINK_PORT reads and discards until the peer's end,
 * then closes (lb_client bulk waits for that close).
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum kind { ANSWER_LISTENER, SINK_LISTENER, ANSWER, SINK };

static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

/* The descriptor and its kind in one epoll cookie. */
static uint64_t cookie(int fd, enum kind kind)
{
	return (uint64_t)kind << 32 | (uint32_t)fd;
}

static int listen_on(int epoll, int port, enum kind kind)
{
	int one = 1;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 4096)) {
		perror("listen");
		return -1;
	}
	struct epoll_event event = { .events = EPOLLIN, .data.u64 = cookie(fd, kind) };
	return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

static void accept_all(int epoll, int listener, enum kind kind)
{
	int fd;

	while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		struct epoll_event event = { .events = EPOLLIN, .data.u64 = cookie(fd, kind) };
		if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event))
			close(fd);
	}
	/* EMFILE and the like: the backlog keeps the rest until a descriptor frees. */
}

int main(int argc, char **argv)
{
	static char buffer[1 << 20];
	struct rlimit limit;

	if (argc != 3) {
		fprintf(stderr, "usage: %s ANSWER_PORT SINK_PORT\n", argv[0]);
		return 2;
	}
	if (!getrlimit(RLIMIT_NOFILE, &limit)) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
	int epoll = epoll_create1(0);
	if (epoll < 0 || listen_on(epoll, atoi(argv[1]), ANSWER_LISTENER) || listen_on(epoll, atoi(argv[2]), SINK_LISTENER))
		return 1;
	struct epoll_event events[256];
	for (;;) {
		int ready = epoll_wait(epoll, events, 256, -1);
		if (ready < 0 && errno != EINTR) {
			perror("epoll_wait");
			return 1;
		}
		for (int e = 0; e < ready; e++) {
			int fd = (int)(uint32_t)events[e].data.u64;
			enum kind kind = events[e].data.u64 >> 32;
			ssize_t n;
			switch (kind) {
			case ANSWER_LISTENER:
				accept_all(epoll, fd, ANSWER);
				break;
			case SINK_LISTENER:
				accept_all(epoll, fd, SINK);
				break;
			case ANSWER:
				/* The request is one small segment: answer whatever came, then close (FIN). */
				n = recv(fd, buffer, sizeof(buffer), 0);
				if (n > 0)
					send(fd, answer, sizeof(answer) - 1, MSG_NOSIGNAL);
				if (n >= 0 || errno != EAGAIN)
					close(fd);
				break;
			case SINK:
				n = recv(fd, buffer, sizeof(buffer), 0);
				if (n == 0 || (n < 0 && errno != EAGAIN))
					close(fd);
				break;
			}
		}
	}
}
