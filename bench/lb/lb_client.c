// SPDX-License-Identifier: MIT
/*
 * The client side of bench/lb's namespace mode.
 *
 *   lb_client conn ADDRESS PORT SECONDS CONCURRENCY PROCESSES
 *     Short connections: CONCURRENCY in flight at once, spread over PROCESSES
 *     (each keeps its share in one epoll loop: a descriptor each). Each one
 *     connects, sends a small HTTP request, reads the answer to its end and
 *     closes. Prints "CONN_PER_S P99_MS FAILED": completed connections per
 *     second, the 99th percentile of connect + first byte (from connect()
 *     until the answer's first byte), connections that failed.
 *
 *   lb_client bulk ADDRESS PORT SECONDS
 *     One stream: writes for SECONDS, then waits for the sink to close after
 *     reading everything. Prints "GBIT_S", every byte counted as received.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Latencies in 10 µs buckets up to 100 ms, then 1 ms buckets up to 10 s (a SYN
 * retransmitted under a full backlog waits a second or more); slower ones land
 * in the last bucket.
 */
#define FINE_US 10
#define FINE_BUCKETS 10000
#define COARSE_US 1000
#define BUCKETS (FINE_BUCKETS + 9900)

struct result {
	long completed;
	long failed;
	uint32_t latency[BUCKETS];
};

struct slot {
	int fd;
	int sent;	/* the request went */
	int answered;	/* the first byte came */
	double start;
};

static long bucket_of(double seconds)
{
	long us = (long)(seconds * 1e6);
	long bucket = us < FINE_US * FINE_BUCKETS ? us / FINE_US : FINE_BUCKETS + (us - FINE_US * FINE_BUCKETS) / COARSE_US;

	return bucket < BUCKETS ? bucket : BUCKETS - 1;
}

/* A bucket's upper bound in milliseconds: a percentile in it is at most that. */
static double bucket_ms(long bucket)
{
	if (bucket < FINE_BUCKETS)
		return (bucket + 1) * FINE_US / 1000.0;
	return (FINE_US * FINE_BUCKETS + (bucket - FINE_BUCKETS + 1) * COARSE_US) / 1000.0;
}

static const char request[] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
static struct sockaddr_in target;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reset rather than FIN: the client keeps no TIME_WAIT, so its ports never run out. */
static void drop(int fd)
{
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(fd);
}

static int open_slot(int epoll, struct slot *slot)
{
	slot->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (slot->fd < 0) {
		perror("socket");
		return -1;
	}
	slot->sent = slot->answered = 0;
	slot->start = now();
	if (connect(slot->fd, (struct sockaddr *)&target, sizeof(target)) && errno != EINPROGRESS) {
		perror("connect");
		return -1;
	}
	/* Edge-triggered: one wake-up when the connect completes, then one per arrival. */
	struct epoll_event event = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = slot };
	return epoll_ctl(epoll, EPOLL_CTL_ADD, slot->fd, &event);
}

/* Advances one connection; returns 1 when it ended (completed or failed), 0 while it goes on. */
static int step(struct slot *slot, struct result *result)
{
	char buffer[4096];

	if (!slot->sent) {
		/* A failed connect shows as send's error: no SO_ERROR call on the usual path. */
		if (send(slot->fd, request, sizeof(request) - 1, MSG_NOSIGNAL) < 0) {
			if (errno == EAGAIN)
				return 0;
			result->failed++;
			return 1;
		}
		slot->sent = 1;
	}
	for (;;) {
		ssize_t n = recv(slot->fd, buffer, sizeof(buffer), 0);
		if (n > 0) {
			if (!slot->answered) {
				result->latency[bucket_of(now() - slot->start)]++;
				slot->answered = 1;
			}
			continue;
		}
		if (n == 0) {
			if (slot->answered)
				result->completed++;
			else
				result->failed++;
			return 1;
		}
		if (errno == EAGAIN)
			return 0;
		result->failed++;
		return 1;
	}
}

static int short_connections(struct result *result, int concurrency, double seconds)
{
	int epoll = epoll_create1(0);
	struct slot *slots = calloc(concurrency, sizeof(*slots));

	if (epoll < 0 || !slots) {
		perror("setup");
		return 1;
	}
	for (int i = 0; i < concurrency; i++)
		if (open_slot(epoll, &slots[i]))
			return 1;
	double end = now() + seconds;
	struct epoll_event events[256];
	while (now() < end) {
		int ready = epoll_wait(epoll, events, 256, 100);
		for (int e = 0; e < ready; e++) {
			struct slot *slot = events[e].data.ptr;
			if (step(slot, result)) {
				drop(slot->fd);
				if (open_slot(epoll, slot))
					return 1;
			}
		}
	}
	/* Connections still in flight at the end count neither way. */
	return 0;
}

static void raise_descriptor_limit(void)
{
	struct rlimit limit;

	if (!getrlimit(RLIMIT_NOFILE, &limit)) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
}

static int conn(double seconds, int concurrency, int processes)
{
	if (concurrency < 1 || processes < 1 || processes > concurrency) {
		fprintf(stderr, "CONCURRENCY and PROCESSES must be positive, PROCESSES at most CONCURRENCY\n");
		return 2;
	}
	/* Every process counts into its own result in memory they share; the parent adds them up. */
	struct result *results = mmap(NULL, processes * sizeof(*results), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (results == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (int p = 0; p < processes; p++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			int share = concurrency / processes + (p < concurrency % processes);
			_exit(short_connections(&results[p], share, seconds));
		}
	}
	int status, failed_processes = 0;
	while (wait(&status) > 0)
		failed_processes += !WIFEXITED(status) || WEXITSTATUS(status);
	if (failed_processes)
		return 1;

	long completed = 0, failed = 0, seen = 0, bucket = 0;
	for (int p = 0; p < processes; p++) {
		completed += results[p].completed;
		failed += results[p].failed;
	}
	/* Failed connections that got a first byte are in the histogram too: count over all of it. */
	long answered = 0;
	for (long b = 0; b < BUCKETS; b++)
		for (int p = 0; p < processes; p++)
			answered += results[p].latency[b];
	for (; bucket < BUCKETS; bucket++) {
		for (int p = 0; p < processes; p++)
			seen += results[p].latency[bucket];
		if (answered && seen * 100 >= answered * 99)
			break;
	}
	printf("%.0f %.2f %ld\n", completed / seconds, answered ? bucket_ms(bucket) : 0, failed);
	return 0;
}

static int bulk(double seconds)
{
	static char buffer[256 * 1024];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&target, sizeof(target))) {
		perror("connect");
		return 1;
	}
	double start = now(), end = start + seconds;
	long long bytes = 0;
	while (now() < end) {
		ssize_t n = send(fd, buffer, sizeof(buffer), MSG_NOSIGNAL);
		if (n < 0) {
			perror("send");
			return 1;
		}
		bytes += n;
	}
	/* The sink closes once it has read everything: then every byte counted has arrived. */
	shutdown(fd, SHUT_WR);
	while (recv(fd, buffer, sizeof(buffer), 0) > 0)
		;
	printf("%.2f\n", bytes * 8 / (now() - start) / 1e9);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int is_conn = argc == 7 && !strcmp(argv[1], "conn");
	int is_bulk = argc == 5 && !strcmp(argv[1], "bulk");

	if (!is_conn && !is_bulk) {
		fprintf(stderr, "usage: %s conn ADDRESS PORT SECONDS CONCURRENCY PROCESSES\n"
				"       %s bulk ADDRESS PORT SECONDS\n", argv[0], argv[0]);
		return 2;
	}
	target.sin_family = AF_INET;
	target.sin_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &target.sin_addr) != 1) {
		fprintf(stderr, "not an IPv4 address: %s\n", argv[2]);
		return 2;
	}
	raise_descriptor_limit();
	if (is_bulk)
		return bulk(atof(argv[4]));
	return conn(atof(argv[4]), atoi(argv[5]), atoi(argv[6]));
}
