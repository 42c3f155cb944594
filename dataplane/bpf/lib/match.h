/* SPDX-License-Identifier: GPL-2.0 */
/* Matching a packet against entries 1 (source) and 2 (destination), and
 * turning the matched entries into the set of copies to send: one copy per
 * distinct action, at most DP_MAX_COPIES (the dedupe rule of
 * docs/exactly-once.md). Also the egress rule's question "does an entry
 * send this host's packets to the server on this port?". */
#ifndef EVPNMON_LIB_MATCH_H
#define EVPNMON_LIB_MATCH_H

#include <linux/if_ether.h>

#include "maps.h"
#include "stats.h"

static __always_inline int same_action(const struct dp_action *a,
				       const struct dp_action *b)
{
	return a->kind == b->kind && a->host_id == b->host_id &&
	       a->ifindex == b->ifindex && a->remote_vtep == b->remote_vtep &&
	       a->vni == b->vni;
}

/* Every entry installed under `key`: counted as matched, and its action
 * added to st->copies unless an equal action is there already or the copy
 * limit is reached (then counted as an overflow). The place where a
 * session's profile (direction, filter, sampler, policer: lib/profile.h)
 * will decide per entry whether it asks for a copy at all. */
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

/* The four lookups of one packet in its port's VNI. Their ORDER is part of
 * the semantics: beyond DP_MAX_COPIES distinct actions the earlier lookups
 * win, so the memory backend (dataplane/src/memory/memory_backend.cpp)
 * collects in the same order: source MAC, destination MAC, source IP,
 * destination IP. addrs/alen: parse_ip_addrs(). */
static __always_inline void collect_packet(struct copy_state *st, __u32 vni,
					   const struct ethhdr *eth,
					   const __u8 addrs[32], int alen,
					   __u32 len)
{
	struct dp_match_key key = {};

	key.vni = vni;
	key.mtype = DP_MATCH_MAC;
	key.kind = DP_KIND_SRC;
	__builtin_memcpy(key.addr, eth->h_source, 6);
	collect(st, &key, len);
	key.kind = DP_KIND_DST;
	__builtin_memcpy(key.addr, eth->h_dest, 6);
	collect(st, &key, len);

	if (alen == 4) {
		key.mtype = DP_MATCH_V4;
		__builtin_memset(key.addr, 0, 16);
		key.kind = DP_KIND_SRC;
		__builtin_memcpy(key.addr, addrs, 4);
		collect(st, &key, len);
		key.kind = DP_KIND_DST;
		__builtin_memcpy(key.addr, addrs + 4, 4);
		collect(st, &key, len);
	} else if (alen == 16) {
		key.mtype = DP_MATCH_V6;
		key.kind = DP_KIND_SRC;
		__builtin_memcpy(key.addr, addrs, 16);
		collect(st, &key, len);
		key.kind = DP_KIND_DST;
		__builtin_memcpy(key.addr, addrs + 16, 16);
		collect(st, &key, len);
	}
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
 * VNI) or, for the source, an entry 1 with that port as action. key->vni
 * and key->mtype are set by the caller. */
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

#endif /* EVPNMON_LIB_MATCH_H */
