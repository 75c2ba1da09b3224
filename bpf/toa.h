/* SPDX-License-Identifier: MIT */
/* Constants every program shares. Overridable at compile time (-D). */
#ifndef TOA_H
#define TOA_H

#ifndef TOA_OPTION_MAX_LEN
#define TOA_OPTION_MAX_LEN 20 /* the longest TOA: 253/20, 254/20 */
#endif
#define TCP_OPTION_SPACE 40   /* 60-byte TCP header maximum minus 20 fixed */
/* The smallest page: a sockopt program never sees more of a value than a page of it. */
#define TOA_SOCKOPT_PAGE 4096

/*
 * Keeps clang from folding a length's lower and upper tests into one test of a
 * copy (len - lo > hi - lo): verifiers before 6.x cannot carry that bound back to
 * the length, and helpers taking a size refuse one that may be 0.
 */
#define TOA_OPAQUE(v) asm volatile("" : "+r"(v))

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

/* Address families and socket levels as the kernel numbers them (programs have no libc headers; user space does). */
#ifndef AF_INET
#define AF_INET  2
#define AF_INET6 10
#endif
#ifndef SOL_TCP
#define SOL_IP  0
#define SOL_TCP 6
#endif

#endif
