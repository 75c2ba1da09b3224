/* SPDX-License-Identifier: MIT */
/* What the stress client and server share. */
#ifndef TOA_STRESS_H
#define TOA_STRESS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* An address as text and its port; an IPv4-mapped IPv6 address as plain IPv4, as the claims are written. */
static inline void address_text(const struct sockaddr_storage *addr, char *text, size_t size, int *port)
{
	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
		inet_ntop(AF_INET, &in->sin_addr, text, size);
		*port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, size);
		else
			inet_ntop(AF_INET6, &in6->sin6_addr, text, size);
		*port = ntohs(in6->sin6_port);
	}
}

#endif
