/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Why the sk_lookup program let a connection lookup go on, steered it or dropped it. One list,
 * shared by the BPF program (index of the per-CPU counter array) and user space (metric label
 * `reason` of bulwark_ebpf_lookups_total). Append only: the numbers are the map's keys.
 */
#ifndef BW_REASONS_H
#define BW_REASONS_H

/* X(enum name, metric label, what it means) */
#define BW_REASONS(X)                                                                       \
	X(BW_R_STEERED, "steered", "assigned to the proxy's listening socket")               \
	X(BW_R_NOT_TCP, "not_tcp", "not TCP: left alone")                                     \
	X(BW_R_NOT_APP_PORT, "not_app_port", "local port is not an application port")         \
	X(BW_R_NOT_POD_ADDRESS, "not_pod_address", "local address is not a pod address")      \
	X(BW_R_LOOPBACK, "loopback", "loopback source or destination: never steered")         \
	X(BW_R_POD_ITSELF, "pod_itself", "the pod connecting to its own address")             \
	X(BW_R_SKIPPED_SOURCE, "skipped_source", "source in the skip list (127.0.0.6, excluded CIDRs)") \
	X(BW_R_NO_LISTENER_PASS, "no_listener_pass", "no proxy socket; fail-open: went to the app") \
	X(BW_R_NO_LISTENER_DROP, "no_listener_drop", "no proxy socket; fail-closed: refused")  \
	X(BW_R_ASSIGN_FAILED, "assign_failed", "bpf_sk_assign refused the proxy socket")      \
	X(BW_R_NOT_CONFIGURED, "not_configured", "no configuration loaded yet: left alone")   \
	X(BW_R_ALREADY_SELECTED, "already_selected", "an earlier program chose a socket: kept")

enum bw_reason {
#define BW_REASON_ENUM(name, label, help) name,
	BW_REASONS(BW_REASON_ENUM)
#undef BW_REASON_ENUM
	BW_R_MAX
};

#endif /* BW_REASONS_H */
