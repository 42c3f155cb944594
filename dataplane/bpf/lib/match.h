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
#include "profile.h"
#include "stats.h"

static __always_inline int same_action(const struct dp_action *a,
				       const struct dp_action *b)
{
	return a->kind == b->kind && a->host_id == b->host_id &&
	       a->ifindex == b->ifindex && a->remote_vtep == b->remote_vtep &&
	       a->vni == b->vni;
}

/* The target of server slot a->ifindex (DP_ACT_SERVER) into *a: read
 * once per packet and kept in st->res, so that every entry of the packet
 * naming the server sees the same target while userspace replaces it (a
 * move), and its copies dedupe on that target. Kind 0 is a server
 * without a target here (userspace's Unresolved: its MAC unknown, its VTEP
 * unreachable): no copy (DP_SEL_NO_TARGET). A slot without an element
 * (none is named while absent; defensive) reads as the same. */
static __always_inline void resolve_server(struct copy_state *st,
					   struct dp_action *a)
{
	__u32 slot = a->ifindex, n = st->nres;
	for (__u32 j = 0; j < DP_MAX_MATCHED; j++) {
		if (j >= n)
			break;
		if (st->res[j].slot == slot) {
			*a = st->res[j].target;
			return;
		}
	}
	struct dp_server_val *v = bpf_map_lookup_elem(&dp_server, &slot);
	if (v)
		*a = v->target;
	else
		__builtin_memset(a, 0, sizeof(*a));
	if (n < DP_MAX_MATCHED) {
		st->res[n].slot = slot;
		st->res[n].target = *a;
		st->nres = n + 1;
	}
}

/* One matched entry (slot s, found by a lookup of entry kind `kind`):
 * joins the (action, profile) pair of its resolved action, a new one in
 * lookup order if needed. A global function: verified once, not once per
 * slot and lookup. */
__attribute__((noinline)) int dp_add_match(struct copy_state *st,
					   const struct dp_slot *s, __u32 kind)
{
	if (!st || !s)
		return 0;
	struct dp_action act = s->action;
	if (act.kind == DP_ACT_SERVER)
		resolve_server(st, &act);
	__u32 np = st->npairs;
	__u32 p = np;
	for (__u32 j = 0; j < DP_MAX_MATCHED; j++) {
		if (j >= np)
			break;
		if (st->pairs[j].prof == s->prof &&
		    same_action(&st->pairs[j].action, &act)) {
			p = j;
			break;
		}
	}
	if (p == np && np < DP_MAX_MATCHED) {
		st->pairs[np].action = act;
		st->pairs[np].prof = s->prof;
		st->pairs[np].kinds = 0;
		st->npairs = np + 1;
	}
	if (p < DP_MAX_MATCHED)
		st->pairs[p].kinds |= 1u << (kind & 7);
	__u32 m = st->nmatched;
	if (m < DP_MAX_MATCHED) {
		st->matched[m].stat = s->stat_idx;
		st->matched[m].pair = (__u8)p;
		st->nmatched = m + 1;
	}
	return 0;
}

/* dp_match_bits' one element: its words. The mask and the element's
 * size come from one function in userspace (match_bits_words); the
 * verifier refuses the program if a word the mask allows lies beyond
 * the element. */
static __always_inline const __u64 *match_bits(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&dp_match_bits, &zero);
}

/* 0 if `key` certainly has no dp_match element: its bit is clear. */
static __always_inline int bit_set(const __u64 *bits, __u32 mask,
				   const struct dp_match_key *key)
{
	__u32 bit = dp_match_bit(key, mask);
	return (bits[bit >> 6] >> (bit & 63)) & 1;
}

static __always_inline int match_may_hold(const struct dp_match_key *key)
{
	const __u64 *bits = match_bits();
	return bits && bit_set(bits, dp_match_bits_mask, key);
}

/* The dp_match element of `key`, or NULL; the hash lookup only when the
 * key's bit is set (most packets match nothing). */
static __always_inline struct dp_match_val *
match_find(const struct dp_match_key *key)
{
	if (!match_may_hold(key))
		return NULL;
	return bpf_map_lookup_elem(&dp_match, key);
}

/* Every entry installed under `key`: grouped with the other matched
 * entries of the same (action, profile) pair: the pair is evaluated once
 * per packet (select_copies), so a session's sampler and policer are
 * charged once although its entries 1 and 2 may both match. Each entry is
 * counted once, with the packet's outcome (count_matched). */
static __always_inline void collect(struct copy_state *st,
				    const struct dp_match_key *key)
{
	struct dp_match_val *v = match_find(key);
	if (!v)
		return;
	for (__u32 i = 0; i < DP_MAX_ACTIONS; i++) {
		if (i >= v->n)
			break;
		dp_add_match(st, &v->slots[i], key->kind);
	}
}

/* The destination (src 0) or source MAC of an Ethernet header's first 12
 * octets (`macs`, 8-aligned) into `to` (zeroed, 4-aligned), from the two
 * words that hold both: the source MAC straddles them, and copied byte-
 * or halfword-wise it costs a load, shift and or per piece on every
 * frame. */
static __always_inline void write_mac(__u8 *to, const __u8 *macs, int src)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	__u64 lo = *(const __u64 *)macs;
	__u64 hi = *(const __u32 *)(macs + 8);
	__u64 mac = src ? (lo >> 48) | (hi << 16) : lo & 0xffffffffffffull;
	*(__u32 *)to = (__u32)mac;
	*(__u16 *)(to + 4) = (__u16)(mac >> 32);
#else
	__builtin_memcpy(to, macs + (src ? 6 : 0), 6);
#endif
}

/* The i-th of a packet's keys in lookup order: 0 source MAC,
 * 1 destination MAC, 2 source IP, 3 destination IP. Fills key and returns
 * 1 if the port's VNI has entries of that kind (fk->kinds: a lookup of a
 * kind no entry in the VNI has would miss and is not made) and the packet
 * has that address (fk->alen, from parse_ip_addrs: 0 without an IP bit).
 * i is a constant at every call: each call compiles to one case. */
static __always_inline int packet_key(struct dp_match_key *key,
				      const struct dp_flow_key *fk, __u32 i)
{
	const int src = !(i & 1);
	if (i < 2) {
		if (!(fk->kinds & (src ? DP_KIND_F_SRC_MAC : DP_KIND_F_DST_MAC)))
			return 0;
		key->mtype = DP_MATCH_MAC;
		__builtin_memset(key->addr, 0, 16);
		write_mac(key->addr, fk->macs, src);
	} else if (fk->alen == 4) {
		if (!(fk->kinds & (src ? DP_KIND_F_SRC_V4 : DP_KIND_F_DST_V4)))
			return 0;
		key->mtype = DP_MATCH_V4;
		__builtin_memset(key->addr, 0, 16);
		__builtin_memcpy(key->addr, fk->addrs + (src ? 0 : 4), 4);
	} else if (fk->alen == 16) {
		if (!(fk->kinds & (src ? DP_KIND_F_SRC_V6 : DP_KIND_F_DST_V6)))
			return 0;
		key->mtype = DP_MATCH_V6;
		__builtin_memcpy(key->addr, fk->addrs + (src ? 0 : 16), 16);
	} else {
		return 0;
	}
	key->vni = fk->vni;
	key->kind = src ? DP_KIND_SRC : DP_KIND_DST;
	return 1;
}

/* 0 if none of the packet's keys can have a dp_match element (every
 * one's bit is clear): the packet matches nothing, which the mirror
 * program learns before it touches its scratch. Not a substitute for
 * collect_packet's own checks: a packet that may match reads the bits
 * again after the generation (match_gen), so that what the flow cache
 * keeps under a generation was read under it. */
static __always_inline int may_match(const struct dp_flow_key *fk)
{
	struct dp_match_key key = {};
	const __u64 *bits = match_bits();
	if (!bits)
		return 0;
	const __u32 mask = dp_match_bits_mask;
	return (packet_key(&key, fk, 0) && bit_set(bits, mask, &key)) ||
	       (packet_key(&key, fk, 1) && bit_set(bits, mask, &key)) ||
	       (packet_key(&key, fk, 2) && bit_set(bits, mask, &key)) ||
	       (packet_key(&key, fk, 3) && bit_set(bits, mask, &key));
}

/* The lookups of one packet in its port's VNI (fk: vni, kinds, MACs and
 * IP addresses). Their ORDER is part of the semantics: beyond
 * DP_MAX_COPIES distinct actions the earlier lookups win, so the memory
 * backend (dataplane/src/memory/memory_backend.cpp) collects in the same
 * order: source MAC, destination MAC, source IP, destination IP. */
static __always_inline void collect_packet(struct copy_state *st,
					   const struct dp_flow_key *fk)
{
	struct dp_match_key key = {};
	if (packet_key(&key, fk, 0))
		collect(st, &key);
	if (packet_key(&key, fk, 1))
		collect(st, &key);
	if (packet_key(&key, fk, 2))
		collect(st, &key);
	if (packet_key(&key, fk, 3))
		collect(st, &key);
}

/* The generation of dp_match, read before any lookup of this packet. The
 * fetching atomic on this CPU's own scratch line is a full barrier on
 * weakly ordered CPUs (arm64: LDADDAL), so no lookup below can read the
 * map as it was before the generation read; on x86 loads are not
 * reordered anyway. */
static __always_inline __u64 match_gen(struct copy_state *st)
{
	if (!dp_flow_cache)
		return 0;
	__u64 gen = dp_match_gen;
	if (__sync_fetch_and_add(&st->fence, 0) == ~0ull)
		gen = 0;
	return gen;
}

/* 1 if the previous packet on this CPU had the same key (dp_flow_key),
 * so that its matched entries and pairs, still in st, are this packet's:
 * the dp_match lookups are skipped for the packets of a flow in a row. */
static __always_inline int same_flow(const struct copy_state *st,
				     const struct dp_flow_key *k)
{
	if (!k->gen)
		return 0;
	const __u64 *a = (const __u64 *)&st->flow, *b = (const __u64 *)k;
	__u64 diff = 0;
	for (__u32 i = 0; i < sizeof(*k) / 8; i++)
		diff |= a[i] ^ b[i];
	return !diff;
}

/* Truncation of a copy several pairs selected: the largest, and a pair
 * that wants the whole frame (0) wins. */
static __always_inline __u32 merge_trunc(__u32 a, __u32 b)
{
	if (!a || !b)
		return 0;
	return a > b ? a : b;
}

/* Evaluates (action, profile) pair j once (lib/profile.h; a pair without
 * a profile always selects) and, if it selects the packet, joins its copy:
 * the existing copy of the same action (truncations merged) or a new one,
 * at most DP_MAX_COPIES. Returns the copy index, -1 over the limit, -2
 * not selected. A global function: verified once. */
__attribute__((noinline)) int dp_select_pair(struct __sk_buff *skb,
					     struct copy_state *st, __u32 j)
{
	if (!skb || !st || j >= DP_MAX_MATCHED)
		return -2;
	/* A server without a target here: no copy, and its profile's
	 * sampler and policer are not consulted. */
	if (st->pairs[j].action.kind == DP_ACT_NONE) {
		st->pairs[j].sel = DP_SEL_NO_TARGET;
		return -2;
	}
	__u32 sel = DP_SEL_COPY, trunc = 0, kinds = st->pairs[j].kinds;
	if (st->pairs[j].prof) {
		int r = dp_profile_select(skb, &st->pkt, st->pairs[j].prof,
					  st->pairs[j].kinds, st->len);
		sel = r & 0xff;
		trunc = ((__u32)r >> 8) & 0xffff;
		kinds = ((__u32)r >> 24) & 0xff;
	}
	st->pairs[j].sel = (__u8)sel;
	if (sel != DP_SEL_COPY)
		return -2;
	__u32 n = st->ncopies;
	for (__u32 c = 0; c < DP_MAX_COPIES; c++) {
		if (c >= n)
			break;
		if (same_action(&st->copies[c].action, &st->pairs[j].action)) {
			st->copies[c].trunc = merge_trunc(st->copies[c].trunc, trunc);
			st->copies[c].kinds |= (__u8)kinds;
			return (int)c;
		}
	}
	if (n >= DP_MAX_COPIES)
		return -1;
	st->copies[n].action = st->pairs[j].action;
	st->copies[n].trunc = trunc;
	st->copies[n].kinds = (__u8)kinds;
	st->ncopies = n + 1;
	return (int)n;
}

/* Evaluates each (action, profile) pair once, then makes ONE copy per
 * action that any of its pairs selected, in the pairs' lookup order, at
 * most DP_MAX_COPIES. Each pair keeps its copy index, or why it has none
 * (its profile's reason, or DP_SEL_OVERFLOW). */
static __always_inline void select_copies(struct __sk_buff *skb,
					  struct copy_state *st)
{
	st->pkt.parsed = 0;
	for (__u32 j = 0; j < DP_MAX_MATCHED; j++) {
		if (j >= st->npairs)
			break;
		int c = dp_select_pair(skb, st, j);
		st->pairs[j].copy = (__s8)c;
		if (c == -1)
			st->pairs[j].sel = DP_SEL_OVERFLOW;
	}
}

/* Counts each matched entry once per packet: matched (packets, octets)
 * and its pair's outcome. Filtered, sampled out, policed (its policer or
 * the mirror ceiling), no target (its server's): not drops. A copy not
 * sent or over the copy limit: a drop. */
static __always_inline void count_matched(const struct copy_state *st)
{
	for (__u32 m = 0; m < DP_MAX_MATCHED; m++) {
		if (m >= st->nmatched)
			break;
		__u32 idx = st->matched[m].stat;
		struct dp_stats *s = bpf_map_lookup_elem(&dp_stats, &idx);
		if (!s)
			continue;
		s->packets++;
		s->bytes += st->len;
		__u32 p = st->matched[m].pair;
		if (p >= DP_MAX_MATCHED)
			continue;
		switch (st->pairs[p].sel) {
		case DP_SEL_COPY:
		case DP_SEL_NO_TARGET:
			break;
		case DP_SEL_FILTERED:
			s->filtered++;
			break;
		case DP_SEL_SAMPLED:
			s->sampled_out++;
			break;
		case DP_SEL_POLICED:
			s->policed++;
			break;
		case DP_SEL_OVERFLOW:
			s->drops++;
			stat_add(&dp_gstats, DP_GSTAT_COPY_OVERFLOW, 0, 0, 1);
			break;
		default:
			s->drops++;
		}
	}
}

/* 1 if action a (of an installed entry) copies to local port ifindex,
 * directly or through its server's target. */
static __always_inline int action_copies_to(const struct dp_action *a,
					    __u32 ifindex)
{
	if (a->kind == DP_ACT_LOCAL)
		return a->ifindex == ifindex;
	if (a->kind != DP_ACT_SERVER)
		return 0;
	__u32 slot = a->ifindex;
	struct dp_server_val *v = bpf_map_lookup_elem(&dp_server, &slot);
	return v && v->target.kind == DP_ACT_LOCAL && v->target.ifindex == ifindex;
}

/* 1 if an entry with this key has the action "copy to local port ifindex",
 * i.e. the host is watched by the server behind that port. */
static __always_inline int copies_to(const struct dp_match_key *key,
				     __u32 ifindex)
{
	struct dp_match_val *v = match_find(key);
	if (!v)
		return 0;
	for (__u32 i = 0; i < DP_MAX_ACTIONS; i++) {
		if (i >= v->n)
			break;
		if (action_copies_to(&v->slots[i].action, ifindex))
			return 1;
	}
	return 0;
}

/* A host (address addr) of a packet: source (is_src) or destination. The
 * mirror copies the packet to the server behind `ifindex` when the host is
 * one of its monitored hosts: an entry 2 (installed on every VTEP of the
 * VNI) or, for the source, an entry 1 with that port as action. key->vni
 * and key->mtype are set by the caller. kinds: the port's dp_srv_port
 * bits (the kinds of the entries whose action is this port); a lookup of
 * another kind cannot find such an entry and is skipped. */
static __always_inline int watched(struct dp_match_key *key, const __u8 *addr,
				   __u32 alen, int is_src, __u32 ifindex,
				   __u32 kinds)
{
	__u32 dst_bit = DP_KIND_F_DST_MAC, src_bit = DP_KIND_F_SRC_MAC;
	if (key->mtype == DP_MATCH_V4) {
		dst_bit = DP_KIND_F_DST_V4;
		src_bit = DP_KIND_F_SRC_V4;
	} else if (key->mtype == DP_MATCH_V6) {
		dst_bit = DP_KIND_F_DST_V6;
		src_bit = DP_KIND_F_SRC_V6;
	}
	if (!(kinds & dst_bit) && !(is_src && (kinds & src_bit)))
		return 0;
	__builtin_memset(key->addr, 0, 16);
	if (alen == 6)
		__builtin_memcpy(key->addr, addr, 6);
	else if (alen == 4)
		__builtin_memcpy(key->addr, addr, 4);
	else
		__builtin_memcpy(key->addr, addr, 16);
	if (kinds & dst_bit) {
		key->kind = DP_KIND_DST;
		if (copies_to(key, ifindex))
			return 1;
	}
	if (!is_src || !(kinds & src_bit))
		return 0;
	key->kind = DP_KIND_SRC;
	return copies_to(key, ifindex);
}

#endif /* EVPNMON_LIB_MATCH_H */
