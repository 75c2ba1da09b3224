// SPDX-License-Identifier: MIT
/*
 * What socket options return, printed so that a test can compare runs inside
 * and outside the receiver's cgroup.
 *
 *   sockopt_probe large
 *       A getsockopt whose answer is longer than a page (SO_PEERGROUPS of a
 *       process in 1500 groups: 6000 bytes, printed in hex) and setsockopts
 *       whose values are longer than a page (TCP_NODELAY, SO_KEEPALIVE: the
 *       kernel reads the leading int), each followed by the value read back.
 *   sockopt_probe serve PORT COUNT
 *       Accepts COUNT IPv4 connections one after the other and asks each
 *       getsockopt(IPPROTO_IP, 4096) with buffers of 0, 19, 20, 21 and 8192
 *       bytes and with a NULL buffer (length 20); reads until the client closes.
 *
 * A line: "WHAT: ret R errno E len L [data]".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GROUPS 1500
#define LARGE 8192 /* more than a page */

static void print_result(const char *what, int ret, socklen_t len)
{
	printf("%s: ret %d errno %d len %u", what, ret, ret ? errno : 0, (unsigned)len);
}

static void print_hex(const unsigned char *data, socklen_t len)
{
	printf(" ");
	for (socklen_t i = 0; i < len; i++)
		printf("%02x", data[i]);
}

static int large(void)
{
	static unsigned char buffer[4 * GROUPS + 4096];
	static gid_t groups[GROUPS];
	int pair[2], value, tcp, ret;
	socklen_t len;

	for (int i = 0; i < GROUPS; i++)
		groups[i] = 100000 + i;
	/* The peer's groups are taken when the pair is made. */
	if (setgroups(GROUPS, groups) || socketpair(AF_UNIX, SOCK_STREAM, 0, pair)) {
		perror("sockopt_probe: setgroups/socketpair");
		return 1;
	}
	len = sizeof(buffer);
	ret = getsockopt(pair[0], SOL_SOCKET, SO_PEERGROUPS, buffer, &len);
	print_result("getsockopt SO_PEERGROUPS", ret, len);
	if (ret == 0)
		print_hex(buffer, len);
	printf("\n");

	tcp = socket(AF_INET, SOCK_STREAM, 0);
	if (tcp < 0) {
		perror("sockopt_probe: socket");
		return 1;
	}
	memset(buffer, 0, sizeof(buffer));
	value = 1;
	memcpy(buffer, &value, sizeof(value));
	ret = setsockopt(tcp, SOL_TCP, TCP_NODELAY, buffer, LARGE);
	print_result("setsockopt TCP_NODELAY", ret, LARGE);
	len = sizeof(value);
	value = -1;
	getsockopt(tcp, SOL_TCP, TCP_NODELAY, &value, &len);
	printf(" then %d\n", value);
	ret = setsockopt(tcp, SOL_SOCKET, SO_KEEPALIVE, buffer, LARGE);
	print_result("setsockopt SO_KEEPALIVE", ret, LARGE);
	len = sizeof(value);
	value = -1;
	getsockopt(tcp, SOL_SOCKET, SO_KEEPALIVE, &value, &len);
	printf(" then %d\n", value);
	return 0;
}

static void lookup(int fd, const char *what, socklen_t size, int null_buffer)
{
	static unsigned char buffer[LARGE];
	socklen_t len = size;
	int ret;

	memset(buffer, 0xee, sizeof(buffer));
	ret = getsockopt(fd, IPPROTO_IP, 4096, null_buffer ? NULL : buffer, &len);
	print_result(what, ret, len);
	if (ret == 0 && !null_buffer) {
		char text[INET6_ADDRSTRLEN];
		unsigned short port;

		inet_ntop(AF_INET6, buffer, text, sizeof(text));
		memcpy(&port, buffer + 16, sizeof(port));
		/* The 21st byte shows whether more than 20 were written. */
		printf(" [%s]:%d next %02x", text, ntohs(port), buffer[20]);
	}
	printf("\n");
}

static int serve(int port, int count)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	char data[256];

	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) || listen(listener, 8)) {
		perror("sockopt_probe: bind/listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (int i = 0; i < count; i++) {
		int fd = accept(listener, NULL, NULL);

		if (fd < 0) {
			perror("sockopt_probe: accept");
			return 1;
		}
		printf("connection %d\n", i + 1);
		lookup(fd, "len 0", 0, 0);
		lookup(fd, "len 19", 19, 0);
		lookup(fd, "len 20", 20, 0);
		lookup(fd, "len 21", 21, 0);
		lookup(fd, "len 8192", LARGE, 0);
		lookup(fd, "null buffer", 20, 1);
		fflush(stdout);
		while (read(fd, data, sizeof(data)) > 0)
			;
		close(fd);
	}
	printf("closed\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "large") == 0)
		return large();
	if (argc == 4 && strcmp(argv[1], "serve") == 0)
		return serve(atoi(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: sockopt_probe large | serve PORT COUNT\n");
	return 2;
}
