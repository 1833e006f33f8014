/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Structures shared by bw_sk_lookup.bpf.c and its user-space loader (capture/src/ebpf_*.cpp):
 * map keys and values, and the configuration word. Plain C, fixed-width fields only.
 */
#ifndef BW_STEER_H
#define BW_STEER_H

#include "bw_reasons.h"

/* Keys of bw_proxy_socks: the proxy's listening socket per family (one reuseport member). */
#define BW_SOCK_V4 0
#define BW_SOCK_V6 1
#define BW_SOCK_SLOTS 2

/* bw_config flags. */
#define BW_CFG_CONFIGURED (1U << 0) /* set once user space wrote the plan */
#define BW_CFG_FAIL_CLOSED (1U << 1) /* no listener: SK_DROP (else SK_PASS) */
#define BW_CFG_ALL_PORTS (1U << 2)   /* every port except bw_ports (else only bw_ports) */
#define BW_CFG_ANY_ADDR (1U << 3)    /* every local address (else only bw_pod_addrs*) */
#define BW_CFG_V4 (1U << 4)          /* steer IPv4 */
#define BW_CFG_V6 (1U << 5)          /* steer IPv6 */

struct bw_config {
	__u32 flags;
	__u32 proxy_port; /* host byte order; never steered (a connection to it is already ours) */
};

/* LPM trie keys for the skipped source ranges. */
struct bw_lpm4 {
	__u32 prefixlen;
	__u32 addr; /* network byte order */
};

struct bw_lpm6 {
	__u32 prefixlen;
	__u32 addr[4]; /* network byte order */
};

struct bw_addr6 {
	__u32 addr[4];
};

#define BW_MAX_PORTS 1024
#define BW_MAX_ADDRS 64
#define BW_MAX_SKIP 256

#endif /* BW_STEER_H */
