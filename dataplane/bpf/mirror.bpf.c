// SPDX-License-Identifier: GPL-2.0
/* evpn-monitor TC programs.
 *
 * evpnmon_mirror: TC ingress of every host-facing bridge port. For each
 *   packet, looks up entries 1 (by source MAC, source IP) and 2 (by
 *   destination MAC, destination IP) in the port's VNI, and emits ONE copy per
 *   distinct action: bpf_clone_redirect to the egress of a local port, or with
 *   a VXLAN-GBP tunnel key (VNI, HOST ID as Group Policy ID, remote VTEP) to
 *   the egress of the mirror device (`vxlan external gbp`). The original is
 *   never modified: always TC_ACT_OK.
 *
 * evpnmon_decap: TC ingress of the mirror device. Reads the tunnel key (VNI)
 *   and the GBP option (HOST ID), looks up entry 3 and redirects the inner
 *   frame to the egress of the server's port; unknown HOST ID: dropped and
 *   counted. The copy carries DP_COPY_MARK.
 *
 * evpnmon_egress: TC egress of every host-facing bridge port. Drops an
 *   ORIGINAL frame (no DP_COPY_MARK) that the bridge floods or forwards out
 *   of a monitoring server's port when the mirror already copies it to that
 *   server: unicast, not addressed to a MAC learned on this port, and its
 *   source or destination is a host with an entry 1/2 whose action is this
 *   port (docs/dataplane.md, "Exactly-once rule"). Everything else: TC_ACT_OK.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "evpnmon_shared.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dp_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_PORTS);
	__type(key, __u32); /* ifindex of a host-facing port */
	__type(value, __u32); /* VNI of its bridge */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_port_vni SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_ENTRIES);
	__type(key, struct dp_match_key);
	__type(value, struct dp_match_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_match SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_ENTRIES);
	__type(key, struct dp_decap_key);
	__type(value, struct dp_decap_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_decap SEC(".maps");

/* Userspace only: full description of each entry, keyed by stat_idx. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct dp_entry_meta);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DP_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct dp_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DP_GSTAT_MAX);
	__type(key, __u32);
	__type(value, struct dp_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_gstats SEC(".maps");

/* (VNI, MAC) -> host-facing port it was learned on (userspace, from the
 * bridge FDB). Read by evpnmon_egress to recognise frames to the server. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_LOCAL_MACS);
	__type(key, struct dp_mac_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_local_mac SEC(".maps");

/* Ports that copies are sent to (the LocalPort action of an installed entry
 * 1/2/3): ifindex -> 1. evpnmon_egress returns at once on other ports. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_srv_port SEC(".maps");

/* struct bpf_tunnel_key with local_ipv4 (kernel >= 6.0); the Debian 12
 * uapi header predates that field. The kernel accepts this size. */
struct dp_tunnel_key {
	__u32 tunnel_id;
	union {
		__u32 remote_ipv4;
		__u32 remote_ipv6[4];
	};
	__u8 tunnel_tos;
	__u8 tunnel_ttl;
	__u16 tunnel_ext;
	__u32 tunnel_label;
	union {
		__u32 local_ipv4;
		__u32 local_ipv6[4];
	};
};

struct dp_gbp_opt {
	__u32 gbp; /* struct vxlan_metadata: Group Policy ID in the low 16 bits */
};

static __always_inline void stat_add(void *map, __u32 idx, __u64 pkts,
				     __u64 bytes, __u64 drops)
{
	struct dp_stats *s = bpf_map_lookup_elem(map, &idx);
	if (!s)
		return;
	s->packets += pkts;
	s->bytes += bytes;
	s->drops += drops;
}

struct copy_state {
	struct dp_action copies[DP_MAX_COPIES];
	__u32 ncopies;
	/* matched entries: stat index and copy index (-1 = over the limit) */
	__u32 mstat[4 * DP_MAX_ACTIONS];
	__s8 mcopy[4 * DP_MAX_ACTIONS];
	__u32 nmatched;
};

/* Per-packet scratch (too large for the 512-byte BPF stack). TC programs
 * run with migration disabled and copies are queued, never processed
 * synchronously by this program, so one slot per CPU is enough. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct copy_state);
} dp_scratch SEC(".maps");

static __always_inline int same_action(const struct dp_action *a,
				       const struct dp_action *b)
{
	return a->kind == b->kind && a->host_id == b->host_id &&
	       a->ifindex == b->ifindex && a->remote_vtep == b->remote_vtep &&
	       a->vni == b->vni;
}

static __always_inline void collect(struct copy_state *st,
				    const struct dp_match_key *key, __u32 len)
{
	struct dp_match_val *v = bpf_map_lookup_elem(&dp_match, key);
	if (!v)
		return;
	for (__u32 i = 0; i < DP_MAX_ACTIONS; i++) {
		if (i >= v->n)
			break;
		struct dp_slot *s = &v->slots[i];
		__s8 idx = -1;
		for (__u32 j = 0; j < DP_MAX_COPIES; j++) {
			if (j >= st->ncopies)
				break;
			if (same_action(&st->copies[j], &s->action)) {
				idx = (__s8)j;
				break;
			}
		}
		if (idx < 0 && st->ncopies < DP_MAX_COPIES) {
			__u32 n = st->ncopies;
			if (n < DP_MAX_COPIES) {
				st->copies[n] = s->action;
				idx = (__s8)n;
				st->ncopies = n + 1;
			}
		}
		stat_add(&dp_stats, s->stat_idx, 1, len, 0);
		if (idx < 0)
			stat_add(&dp_gstats, DP_GSTAT_COPY_OVERFLOW, 0, 0, 1);
		__u32 m = st->nmatched;
		if (m < 4 * DP_MAX_ACTIONS) {
			st->mstat[m] = s->stat_idx;
			st->mcopy[m] = idx;
			st->nmatched = m + 1;
		}
	}
}

static __always_inline int emit(struct __sk_buff *skb, const struct dp_action *a)
{
	if (a->kind == DP_ACT_LOCAL) {
		/* The clone carries the copy mark; the original keeps its own. */
		__u32 mark = skb->mark;
		skb->mark = mark | DP_COPY_MARK;
		int err = bpf_clone_redirect(skb, a->ifindex, 0);
		skb->mark = mark;
		return err;
	}

	__u32 zero = 0;
	struct dp_config *cfg = bpf_map_lookup_elem(&dp_config, &zero);
	if (!cfg || !cfg->mirror_ifindex)
		return -1;
	struct dp_tunnel_key key = {};
	key.tunnel_id = a->vni;
	key.remote_ipv4 = bpf_ntohl(a->remote_vtep);
	key.local_ipv4 = bpf_ntohl(cfg->local_vtep);
	key.tunnel_ttl = cfg->ttl ? cfg->ttl : 64;
	int err = bpf_skb_set_tunnel_key(skb, (struct bpf_tunnel_key *)&key,
					 sizeof(key), 0);
	if (err)
		return err;
	struct dp_gbp_opt opt = {.gbp = a->host_id};
	err = bpf_skb_set_tunnel_opt(skb, &opt, sizeof(opt));
	if (err)
		return err;
	return bpf_clone_redirect(skb, cfg->mirror_ifindex, 0);
}

SEC("tc")
int evpnmon_mirror(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ingress_ifindex;
	__u32 *vni = bpf_map_lookup_elem(&dp_port_vni, &ifindex);
	if (!vni)
		return TC_ACT_OK;

	struct ethhdr eth;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_OK;
	__u32 off = sizeof(eth);
	__u16 proto = eth.h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		if (bpf_skb_load_bytes(skb, off + 2, &proto, sizeof(proto)))
			proto = 0;
		off += 4;
	}

	__u32 zero = 0;
	struct copy_state *stp = bpf_map_lookup_elem(&dp_scratch, &zero);
	if (!stp)
		return TC_ACT_OK;
	stp->ncopies = 0;
	stp->nmatched = 0;
	struct dp_match_key key = {};
	/* Frame length as sent by the host: the kernel has already moved an
	 * 802.1Q tag into skb metadata (and out of skb->len) before TC. */
	__u32 len = skb->len + (skb->vlan_present ? 4 : 0);
	key.vni = *vni;

	key.kind = DP_KIND_SRC;
	key.mtype = DP_MATCH_MAC;
	__builtin_memcpy(key.addr, eth.h_source, 6);
	collect(stp, &key, len);
	key.kind = DP_KIND_DST;
	__builtin_memcpy(key.addr, eth.h_dest, 6);
	collect(stp, &key, len);

	__u8 addrs[32];
	int alen = 0;
	if (proto == bpf_htons(ETH_P_IP)) {
		if (!bpf_skb_load_bytes(skb, off + 12, addrs, 8)) {
			alen = 4;
			key.mtype = DP_MATCH_V4;
		}
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (!bpf_skb_load_bytes(skb, off + 8, addrs, 32)) {
			alen = 16;
			key.mtype = DP_MATCH_V6;
		}
	}
	if (alen == 4) {
		__builtin_memset(key.addr, 0, 16);
		key.kind = DP_KIND_SRC;
		__builtin_memcpy(key.addr, addrs, 4);
		collect(stp, &key, len);
		key.kind = DP_KIND_DST;
		__builtin_memcpy(key.addr, addrs + 4, 4);
		collect(stp, &key, len);
	} else if (alen == 16) {
		key.kind = DP_KIND_SRC;
		__builtin_memcpy(key.addr, addrs, 16);
		collect(stp, &key, len);
		key.kind = DP_KIND_DST;
		__builtin_memcpy(key.addr, addrs + 16, 16);
		collect(stp, &key, len);
	}

	if (!stp->ncopies)
		return TC_ACT_OK;

	/* Local copies first, then VXLAN copies: the tunnel key set for a
	 * VXLAN copy stays attached to the skb's metadata (never to its bytes)
	 * and must not travel with a local copy. */
	__u8 failed[DP_MAX_COPIES] = {};
	for (__u32 pass = 0; pass < 2; pass++) {
		for (__u32 j = 0; j < DP_MAX_COPIES; j++) {
			if (j >= stp->ncopies)
				break;
			const struct dp_action *a = &stp->copies[j];
			if ((pass == 0) != (a->kind == DP_ACT_LOCAL))
				continue;
			if (emit(skb, a))
				failed[j] = 1;
		}
	}
	for (__u32 m = 0; m < 4 * DP_MAX_ACTIONS; m++) {
		if (m >= stp->nmatched)
			break;
		__s8 c = stp->mcopy[m];
		if (c < 0 || (c < DP_MAX_COPIES && failed[c]))
			stat_add(&dp_stats, stp->mstat[m], 0, 0, 1);
	}
	return TC_ACT_OK;
}

SEC("tc")
int evpnmon_decap(struct __sk_buff *skb)
{
	struct dp_tunnel_key key = {};
	struct dp_gbp_opt opt = {};
	if (bpf_skb_get_tunnel_key(skb, (struct bpf_tunnel_key *)&key,
				   sizeof(key), 0) ||
	    bpf_skb_get_tunnel_opt(skb, &opt, sizeof(opt)) < (long)sizeof(opt)) {
		stat_add(&dp_gstats, DP_GSTAT_DECAP_NOMETA, 0, 0, 1);
		return TC_ACT_SHOT;
	}
	struct dp_decap_key dk = {};
	dk.vni = key.tunnel_id;
	dk.host_id = (__u16)(opt.gbp & 0xffff);
	struct dp_decap_val *v = bpf_map_lookup_elem(&dp_decap, &dk);
	if (!v) {
		stat_add(&dp_gstats, DP_GSTAT_DECAP_UNKNOWN, 1, skb->len, 1);
		return TC_ACT_SHOT;
	}
	stat_add(&dp_stats, v->stat_idx, 1, skb->len, 0);
	skb->mark |= DP_COPY_MARK;
	return bpf_redirect(v->ifindex, 0);
}

/* 1 if an entry with this key has the action "copy to local port ifindex",
 * i.e. the host is watched by the server behind that port. */
static __always_inline int copies_to(const struct dp_match_key *key,
				     __u32 ifindex)
{
	struct dp_match_val *v = bpf_map_lookup_elem(&dp_match, key);
	if (!v)
		return 0;
	for (__u32 i = 0; i < DP_MAX_ACTIONS; i++) {
		if (i >= v->n)
			break;
		if (v->slots[i].action.kind == DP_ACT_LOCAL &&
		    v->slots[i].action.ifindex == ifindex)
			return 1;
	}
	return 0;
}

/* A host (address addr) of a packet: source (is_src) or destination. The
 * mirror copies the packet to the server behind `ifindex` when the host is
 * one of its monitored hosts: an entry 2 (installed on every VTEP of the
 * VNI) or, for the source, an entry 1 with that port as action. */
static __always_inline int watched(struct dp_match_key *key, const __u8 *addr,
				   __u32 alen, int is_src, __u32 ifindex)
{
	__builtin_memset(key->addr, 0, 16);
	if (alen == 6)
		__builtin_memcpy(key->addr, addr, 6);
	else if (alen == 4)
		__builtin_memcpy(key->addr, addr, 4);
	else
		__builtin_memcpy(key->addr, addr, 16);
	key->kind = DP_KIND_DST;
	if (copies_to(key, ifindex))
		return 1;
	if (!is_src)
		return 0;
	key->kind = DP_KIND_SRC;
	return copies_to(key, ifindex);
}

SEC("tc")
int evpnmon_egress(struct __sk_buff *skb)
{
	if (skb->mark & DP_COPY_MARK) {
		skb->mark &= ~DP_COPY_MARK; /* a mirror copy: always sent */
		return TC_ACT_OK;
	}
	__u32 ifindex = skb->ifindex;
	if (!bpf_map_lookup_elem(&dp_srv_port, &ifindex))
		return TC_ACT_OK; /* no monitoring server on this port */
	__u32 *vni = bpf_map_lookup_elem(&dp_port_vni, &ifindex);
	if (!vni)
		return TC_ACT_OK;
	struct ethhdr eth;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_OK;
	if (eth.h_dest[0] & 1)
		return TC_ACT_OK; /* broadcast/multicast: never dropped */
	struct dp_mac_key mk = {};
	mk.vni = *vni;
	__builtin_memcpy(mk.mac, eth.h_dest, 6);
	__u32 *at = bpf_map_lookup_elem(&dp_local_mac, &mk);
	if (at && *at == ifindex)
		return TC_ACT_OK; /* addressed to the server itself */

	struct dp_match_key key = {};
	key.vni = *vni;
	key.mtype = DP_MATCH_MAC;
	int dup = watched(&key, eth.h_dest, 6, 0, ifindex) ||
		  watched(&key, eth.h_source, 6, 1, ifindex);
	if (!dup) {
		__u32 off = sizeof(eth);
		__u16 proto = eth.h_proto;
		if (proto == bpf_htons(ETH_P_8021Q) ||
		    proto == bpf_htons(ETH_P_8021AD)) {
			if (bpf_skb_load_bytes(skb, off + 2, &proto, sizeof(proto)))
				proto = 0;
			off += 4;
		}
		__u8 addrs[32];
		if (proto == bpf_htons(ETH_P_IP) &&
		    !bpf_skb_load_bytes(skb, off + 12, addrs, 8)) {
			key.mtype = DP_MATCH_V4;
			dup = watched(&key, addrs + 4, 4, 0, ifindex) ||
			      watched(&key, addrs, 4, 1, ifindex);
		} else if (proto == bpf_htons(ETH_P_IPV6) &&
			   !bpf_skb_load_bytes(skb, off + 8, addrs, 32)) {
			key.mtype = DP_MATCH_V6;
			dup = watched(&key, addrs + 16, 16, 0, ifindex) ||
			      watched(&key, addrs, 16, 1, ifindex);
		}
	}
	if (!dup)
		return TC_ACT_OK;
	stat_add(&dp_gstats, DP_GSTAT_EGRESS_DUP, 1,
		 skb->len + (skb->vlan_present ? 4 : 0), 1);
	return TC_ACT_SHOT;
}
