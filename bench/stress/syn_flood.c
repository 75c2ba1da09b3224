// SPDX-License-Identifier: MIT
/*
 * A SYN flood carrying TOAs, for the stress runs: SYNs from random sources in
 * SOURCE_NET/16, each with an MSS option and a 200/8 TOA claiming
 * 198.51.100.x, sent through a raw socket. Nothing answers the SYN-ACKs (the
 * sources exist nowhere), so each SYN holds a request or a syncookie.
 *
 *   syn_flood SOURCE_NET DEST_IP DEST_PORT COUNT
 *
 * e.g. syn_flood 10.99.0.0 10.201.1.2 9000 200000. Prints "sent N".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint16_t checksum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s SOURCE_NET DEST_IP DEST_PORT COUNT\n", argv[0]);
		return 2;
	}
	struct in_addr net, dest;
	if (inet_pton(AF_INET, argv[1], &net) != 1 || inet_pton(AF_INET, argv[2], &dest) != 1) {
		fprintf(stderr, "%s, %s: not IPv4 addresses\n", argv[1], argv[2]);
		return 2;
	}
	int port = atoi(argv[3]);
	long count = atol(argv[4]);
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	struct {
		struct iphdr ip;
		struct tcphdr tcp;
		uint8_t options[12];
	} __attribute__((packed)) packet;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dest };
	srandom((unsigned)getpid());
	long sent = 0;
	for (long i = 0; i < count; i++) {
		uint32_t source = ntohl(net.s_addr) | (uint32_t)(random() & 0xffff);
		memset(&packet, 0, sizeof(packet));
		packet.ip.version = 4;
		packet.ip.ihl = 5;
		packet.ip.ttl = 64;
		packet.ip.protocol = IPPROTO_TCP;
		packet.ip.tot_len = htons(sizeof(packet));
		packet.ip.saddr = htonl(source);
		packet.ip.daddr = dest.s_addr;
		packet.tcp.source = htons((uint16_t)(1024 + random() % 60000));
		packet.tcp.dest = htons(port);
		packet.tcp.seq = htonl((uint32_t)random());
		packet.tcp.doff = (sizeof(packet.tcp) + sizeof(packet.options)) / 4;
		packet.tcp.syn = 1;
		packet.tcp.window = htons(65535);
		/* MSS 1460, then 200/8 claiming 198.51.100.(i % 256):(i % 60000 + 1). */
		uint8_t options[12] = { 2, 4, 0x05, 0xb4, 200, 8, 0, 0, 198, 51, 100, (uint8_t)i };
		uint16_t claimed_port = htons((uint16_t)(i % 60000 + 1));
		memcpy(options + 6, &claimed_port, 2);
		memcpy(packet.options, options, sizeof(options));
		struct {
			uint32_t source, dest;
			uint8_t zero, protocol;
			uint16_t length;
		} __attribute__((packed)) pseudo = { packet.ip.saddr, packet.ip.daddr, 0, IPPROTO_TCP,
						    htons(sizeof(packet.tcp) + sizeof(packet.options)) };
		uint32_t sum = 0;
		const uint8_t *p = (const uint8_t *)&pseudo;
		for (size_t j = 0; j < sizeof(pseudo); j += 2)
			sum += (uint32_t)p[j] << 8 | p[j + 1];
		packet.tcp.check = checksum(&packet.tcp, sizeof(packet.tcp) + sizeof(packet.options), sum);
		packet.ip.check = checksum(&packet.ip, sizeof(packet.ip), 0);
		if (sendto(fd, &packet, sizeof(packet), 0, (struct sockaddr *)&to, sizeof(to)) == sizeof(packet))
			sent++;
	}
	printf("sent %ld\n", sent);
	return 0;
}
