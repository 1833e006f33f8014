/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types the Bulwark BPF programs use, written out by hand so that a build
 * machine without /sys/kernel/btf/vmlinux still builds them.
 *
 * Only stable UAPI layouts are here (struct bpf_sk_lookup is the program context; the kernel
 * rewrites context accesses itself), so the objects need no CO-RE relocation against kernel
 * BTF and load on any kernel with BPF_PROG_TYPE_SK_LOOKUP (5.9+). A type that is not UAPI
 * must be added with __attribute__((preserve_access_index)) so libbpf relocates it.
 */
#ifndef BW_VMLINUX_H
#define BW_VMLINUX_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u32 __wsum;
typedef __u16 __sum16;

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LPM_TRIE = 11,
	BPF_MAP_TYPE_SOCKMAP = 15,
};

enum {
	BPF_F_NO_PREALLOC = (1U << 0),
};

enum sk_action {
	SK_DROP = 0,
	SK_PASS = 1,
};

enum {
	AF_INET = 2,
	AF_INET6 = 10,
};

enum {
	IPPROTO_TCP = 6,
	IPPROTO_UDP = 17,
};

struct bpf_sock;

/* include/uapi/linux/bpf.h: the sk_lookup program context. */
struct bpf_sk_lookup {
	union {
		union {
			struct bpf_sock *sk;
			__u64 : 64;
		} __attribute__((aligned(8)));
		__u64 cookie;
	};
	__u32 family;
	__u32 protocol;
	__u32 remote_ip4;
	__u32 remote_ip6[4];
	__be16 remote_port;
	__u16 : 16;
	__u32 local_ip4;
	__u32 local_ip6[4];
	__u32 local_port;
	__u32 ingress_ifindex;
};

#endif /* BW_VMLINUX_H */
