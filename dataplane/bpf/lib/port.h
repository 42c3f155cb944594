/* SPDX-License-Identifier: GPL-2.0 */
/* The first questions about a frame on a host-facing port: the VNI of its
 * port, which kinds of entries 1/2 that VNI has, and (leaving the port)
 * which kinds copy to it. All are read from direct-indexed words
 * (evpnmon_kinds.h) and only exceptionally from the hash maps behind them:
 * a port of a large ifindex, or a VNI whose word another VNI owns. */
#ifndef EVPNMON_LIB_PORT_H
#define EVPNMON_LIB_PORT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "maps.h"

/* Word `index` of a words map (two per 8-octet element). */
static __always_inline __u32 read_word(void *map, __u32 index)
{
	__u32 e = index >> 1;
	__u32 *w = bpf_map_lookup_elem(map, &e);
	if (!w)
		return 0;
	return *(volatile __u32 *)(w + (index & 1));
}

/* 1 and *vni if ifindex is a host-facing port, else 0. */
static __always_inline int port_vni(__u32 ifindex, __u32 *vni)
{
	if (ifindex < DP_PORT_WORDS) {
		__u32 v = read_word(&dp_port_word, ifindex);
		if (!(v & DP_PORT_W_PRESENT))
			return 0;
		*vni = v & DP_VNI_W_VNI;
		return 1;
	}
	__u32 *p = bpf_map_lookup_elem(&dp_port_vni, &ifindex);
	if (!p)
		return 0;
	*vni = *p;
	return 1;
}

/* DP_KIND_F_* of the entries 1/2 that copy to port ifindex (dp_srv_port,
 * without DP_KIND_F_DECAP_PORT); 0: none. */
static __always_inline __u32 srv_port_kinds(__u32 ifindex)
{
	__u32 k;
	if (ifindex < DP_PORT_WORDS) {
		k = read_word(&dp_srv_word, ifindex);
	} else {
		__u32 *kp = bpf_map_lookup_elem(&dp_srv_port, &ifindex);
		if (!kp)
			return 0;
		k = *kp;
	}
	return k & ~DP_KIND_F_DECAP_PORT;
}

/* DP_KIND_F_* of the VNI's entries 1/2; 0: none. */
static __always_inline __u32 vni_kinds(__u32 vni)
{
	__u32 v = read_word(&dp_vni_word, vni & (DP_VNI_WORDS - 1));
	if ((v & DP_VNI_W_VNI) == vni && (v & DP_VNI_W_KINDS))
		return (v & DP_VNI_W_KINDS) >> DP_VNI_W_KINDS_SHIFT;
	if (!(v & DP_VNI_W_SPILL))
		return 0;
	__u32 *kp = bpf_map_lookup_elem(&dp_vni_kinds, &vni);
	return kp ? *kp : 0;
}

#endif /* EVPNMON_LIB_PORT_H */
