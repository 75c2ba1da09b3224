// SPDX-License-Identifier: MIT
/*
 * An accept-heavy loopback loop: connect, accept, getpeername, getsockopt 4096,
 * close, as fast as one thread can, for SECONDS; prints connections per second
 * of wall time, then per second of CPU time (user + system: on a busy machine
 * the steadier one; loopback's softirq work runs in this process's context).
 * Both ends live in this process, so in its cgroup: the receiver's programs run
 * for the client's side too (the dearer case).
 *
 *   accept_loop PORT SECONDS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s PORT SECONDS\n", argv[0]);
		return 2;
	}
	int one = 1;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	double seconds = atof(argv[2]);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) || listen(listener, 1024)) {
		perror("listen");
		return 1;
	}
	long count = 0;
	double start = now(), end = start + seconds;
	while ((count & 255) || now() < end) {
		int client = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(client, (struct sockaddr *)&addr, sizeof(addr))) {
			perror("connect");
			return 1;
		}
		int server = accept(listener, NULL, NULL);
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		unsigned char nat64[20];
		socklen_t nat64_len = sizeof(nat64);
		getpeername(server, (struct sockaddr *)&peer, &len);
		getsockopt(server, IPPROTO_IP, 4096, nat64, &nat64_len);
		/* Reset rather than FIN: no TIME_WAIT, so ports never run out. */
		setsockopt(server, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
		close(server);
		close(client);
		count++;
	}
	double wall = now() - start;
	struct rusage usage;
	getrusage(RUSAGE_SELF, &usage);
	double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
	printf("%.0f %.0f\n", count / wall, count / cpu);
	return 0;
}
