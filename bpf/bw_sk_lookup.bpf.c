// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sk_lookup steering: a new TCP connection to a pod address on an application port is handed
 * to the proxy's listening socket (bpf_sk_assign), without NAT. The accepted socket keeps the
 * client's address as its peer and the original destination as its local address.
 *
 * The program runs for every listener lookup in the network namespace (new connections only,
 * and for a SYN that hits a TIME_WAIT entry), the proxy's own connection to the application
 * included, so it steers only when all of these hold:
 *   TCP; local port an application port (never the proxy port); neither end loopback; local
 *   address a pod address; source not the pod itself; source not in the skip list (the
 *   proxy's 127.0.0.6 and excluded client ranges).
 * When the proxy has no socket in bw_proxy_socks (not started yet, restarting) the configured
 * policy decides: fail-open SK_PASS (the application's own listener answers) or fail-closed
 * SK_DROP (the client gets a reset).
 *
 * Every decision bumps bw_stats[reason] (bw_reasons.h), the source of the metric labels.
 */
#include "vmlinux/bw_vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "include/bw_steer.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bw_config);
} bw_config SEC(".maps");

/* Application ports (host byte order): the captured ones, or with BW_CFG_ALL_PORTS the
 * excluded ones. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BW_MAX_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} bw_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BW_MAX_ADDRS);
	__type(key, __u32);
	__type(value, __u8);
} bw_pod_addrs4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BW_MAX_ADDRS);
	__type(key, struct bw_addr6);
	__type(value, __u8);
} bw_pod_addrs6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BW_MAX_SKIP);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bw_lpm4);
	__type(value, __u8);
} bw_skip4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BW_MAX_SKIP);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bw_lpm6);
	__type(value, __u8);
} bw_skip6 SEC(".maps");

/* The proxy's listening sockets, BW_SOCK_V4 / BW_SOCK_V6. A socket leaves the map by itself
 * when its last reference closes, so a dead proxy never black-holes traffic. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, BW_SOCK_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} bw_proxy_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BW_R_MAX);
	__type(key, __u32);
	__type(value, __u64);
} bw_stats SEC(".maps");

static __always_inline int bw_verdict(enum bw_reason reason, int verdict)
{
	__u32 key = reason;
	__u64 *n = bpf_map_lookup_elem(&bw_stats, &key);

	if (n)
		*n += 1;
	return verdict;
}

static __always_inline int bw_loopback4(__u32 addr)
{
	return (addr & bpf_htonl(0xff000000)) == bpf_htonl(0x7f000000);
}

static __always_inline int bw_loopback6(const __u32 a[4])
{
	if (a[0] != 0 || a[1] != 0)
		return 0;
	if (a[2] == 0 && a[3] == bpf_htonl(1))
		return 1; /* ::1 */
	/* ::ffff:127.x.y.z, what a dual-stack socket sees of IPv4 loopback */
	return a[2] == bpf_htonl(0xffff) && bw_loopback4(a[3]);
}

static __always_inline int bw_app_port(const struct bw_config *cfg, __u32 port)
{
	__u16 key = (__u16)port;
	int listed = bpf_map_lookup_elem(&bw_ports, &key) != 0;

	if (port == cfg->proxy_port)
		return 0;
	return (cfg->flags & BW_CFG_ALL_PORTS) ? !listed : listed;
}

/* Checks on the addresses; BW_R_STEERED means "steer". */
static __always_inline enum bw_reason bw_check4(const struct bw_config *cfg,
						struct bpf_sk_lookup *ctx)
{
	__u32 local = ctx->local_ip4;
	__u32 remote = ctx->remote_ip4;
	struct bw_lpm4 src = { .prefixlen = 32, .addr = remote };

	if (!(cfg->flags & BW_CFG_V4))
		return BW_R_NOT_POD_ADDRESS;
	if (bw_loopback4(local) || bw_loopback4(remote))
		return BW_R_LOOPBACK;
	if (!(cfg->flags & BW_CFG_ANY_ADDR) && !bpf_map_lookup_elem(&bw_pod_addrs4, &local))
		return BW_R_NOT_POD_ADDRESS;
	if (remote == local || bpf_map_lookup_elem(&bw_pod_addrs4, &remote))
		return BW_R_POD_ITSELF;
	if (bpf_map_lookup_elem(&bw_skip4, &src))
		return BW_R_SKIPPED_SOURCE;
	return BW_R_STEERED;
}

static __always_inline enum bw_reason bw_check6(const struct bw_config *cfg,
						struct bpf_sk_lookup *ctx)
{
	struct bw_addr6 local = {}, remote = {};
	struct bw_lpm6 src = { .prefixlen = 128 };
	int i;

	if (!(cfg->flags & BW_CFG_V6))
		return BW_R_NOT_POD_ADDRESS;
#pragma unroll
	for (i = 0; i < 4; i++) {
		local.addr[i] = ctx->local_ip6[i];
		remote.addr[i] = ctx->remote_ip6[i];
		src.addr[i] = remote.addr[i];
	}
	if (bw_loopback6(local.addr) || bw_loopback6(remote.addr))
		return BW_R_LOOPBACK;
	if (!(cfg->flags & BW_CFG_ANY_ADDR) && !bpf_map_lookup_elem(&bw_pod_addrs6, &local))
		return BW_R_NOT_POD_ADDRESS;
	if ((local.addr[0] == remote.addr[0] && local.addr[1] == remote.addr[1] &&
	     local.addr[2] == remote.addr[2] && local.addr[3] == remote.addr[3]) ||
	    bpf_map_lookup_elem(&bw_pod_addrs6, &remote))
		return BW_R_POD_ITSELF;
	if (bpf_map_lookup_elem(&bw_skip6, &src))
		return BW_R_SKIPPED_SOURCE;
	return BW_R_STEERED;
}

/* No usable proxy socket: the configured policy decides. */
static __always_inline int bw_no_listener(const struct bw_config *cfg, enum bw_reason why)
{
	if (why == BW_R_ASSIGN_FAILED)
		bw_verdict(why, SK_PASS);
	if (cfg->flags & BW_CFG_FAIL_CLOSED)
		return bw_verdict(BW_R_NO_LISTENER_DROP, SK_DROP);
	return bw_verdict(BW_R_NO_LISTENER_PASS, SK_PASS);
}

static __always_inline int bw_assign(const struct bw_config *cfg, struct bpf_sk_lookup *ctx)
{
	/* Same family only: the proxy's IPv6 listener is v6-only, and a dual-stack one taking
	 * IPv4 would hide which listener the proxy meant for it. */
	__u32 slot = ctx->family == AF_INET6 ? BW_SOCK_V6 : BW_SOCK_V4;
	struct bpf_sock *sk;
	long err;

	/* An earlier sk_lookup program already chose a socket: keep its choice. That earlier
	 * program is usually ours, from before a holder restart (the proxy keeps that link alive
	 * until it has handed its sockets to the new holder). */
	if (ctx->sk)
		return bw_verdict(BW_R_ALREADY_SELECTED, SK_PASS);
	sk = bpf_map_lookup_elem(&bw_proxy_socks, &slot);
	if (!sk)
		return bw_no_listener(cfg, BW_R_NO_LISTENER_PASS);
	/* flags 0: the kernel then picks a member of the proxy's SO_REUSEPORT group, so every
	 * worker thread's listener shares the load. */
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	if (err)
		return bw_no_listener(cfg, BW_R_ASSIGN_FAILED);
	return bw_verdict(BW_R_STEERED, SK_PASS);
}

SEC("sk_lookup")
int bw_steer(struct bpf_sk_lookup *ctx)
{
	__u32 zero = 0;
	const struct bw_config *cfg = bpf_map_lookup_elem(&bw_config, &zero);
	enum bw_reason why;

	if (!cfg || !(cfg->flags & BW_CFG_CONFIGURED))
		return bw_verdict(BW_R_NOT_CONFIGURED, SK_PASS);
	if (ctx->protocol != IPPROTO_TCP)
		return bw_verdict(BW_R_NOT_TCP, SK_PASS);
	if (!bw_app_port(cfg, ctx->local_port))
		return bw_verdict(BW_R_NOT_APP_PORT, SK_PASS);
	if (ctx->family == AF_INET)
		why = bw_check4(cfg, ctx);
	else if (ctx->family == AF_INET6)
		why = bw_check6(cfg, ctx);
	else
		why = BW_R_NOT_POD_ADDRESS;
	if (why != BW_R_STEERED)
		return bw_verdict(why, SK_PASS);
	return bw_assign(cfg, ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
