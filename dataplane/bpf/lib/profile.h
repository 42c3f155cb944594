/* SPDX-License-Identifier: GPL-2.0 */
/* Mirror profiles: whether a (copy action, session profile) pair selects a
 * packet. The steps, in the order of the spec (docs/dataplane.md,
 * "Profiles"): direction (entry 1 = tx, entry 2 = rx), filter lines (ORed;
 * each ANDs family, protocol, prefixes, port ranges, then the user-defined
 * fields), the 1-in-N sampler, the policer. A step that says no ends the
 * evaluation, so a packet stopped by the filter never draws a random
 * number or a token.
 *
 * Both functions are BPF global functions: the verifier checks each once
 * on its own instead of once per pair and per filter line of every call
 * site, which keeps the program within its complexity limit. */
#ifndef EVPNMON_LIB_PROFILE_H
#define EVPNMON_LIB_PROFILE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bucket.h"
#include "maps.h"
#include "parse.h"

static __always_inline int prefix_match(const __u8 *a, const __u8 *addr,
					const __u8 *mask)
{
	const __u32 *x = (const __u32 *)a, *v = (const __u32 *)addr,
		    *m = (const __u32 *)mask;
	return ((x[0] & m[0]) == v[0]) & ((x[1] & m[1]) == v[1]) &
	       ((x[2] & m[2]) == v[2]) & ((x[3] & m[3]) == v[3]);
}

/* 1 if the packet matches filter line f: the 5-tuple fields first, then
 * the UDFs (2 octets big-endian at base + offset; a base the packet does
 * not have, or a packet too short for the field, does not match). */
__attribute__((noinline)) int dp_filter_line(struct __sk_buff *skb,
					     const struct dp_filter *f,
					     const struct dp_pkt *p)
{
	if (!skb || !f || !p)
		return 0;
	if ((f->flags & DP_FF_IP) && !p->family)
		return 0;
	if (f->family && f->family != p->family)
		return 0;
	if (f->proto && f->proto != p->proto)
		return 0;
	if ((f->flags & DP_FF_SRC) && !prefix_match(p->src, f->src_addr, f->src_mask))
		return 0;
	if ((f->flags & DP_FF_DST) && !prefix_match(p->dst, f->dst_addr, f->dst_mask))
		return 0;
	if (f->flags & (DP_FF_SPORT | DP_FF_DPORT)) {
		if (!p->has_ports)
			return 0;
		if ((f->flags & DP_FF_SPORT) &&
		    (p->sport < f->sport_lo || p->sport > f->sport_hi))
			return 0;
		if ((f->flags & DP_FF_DPORT) &&
		    (p->dport < f->dport_lo || p->dport > f->dport_hi))
			return 0;
	}
	for (__u32 i = 0; i < DP_MAX_UDFS; i++) {
		if (i >= f->nudf)
			break;
		const struct dp_udf *u = &f->udf[i];
		__u32 base = u->base == DP_UDF_L3 ? p->l3 :
			     u->base == DP_UDF_L4 ? p->l4 : p->l5;
		if (!base)
			return 0;
		__u16 v;
		if (bpf_skb_load_bytes(skb, base + u->offset, &v, sizeof(v)))
			return 0;
		if ((bpf_ntohs(v) & u->mask) != u->value)
			return 0;
	}
	return 1;
}

static __always_inline void prof_count(__u32 prof, __u32 sel)
{
	struct dp_profile_stats *s = bpf_map_lookup_elem(&dp_profile_stats, &prof);
	if (!s)
		return;
	if (sel == DP_SEL_FILTERED)
		s->filtered++;
	else if (sel == DP_SEL_SAMPLED)
		s->sampled_out++;
	else if (sel == DP_SEL_POLICED)
		s->policed++;
	else
		s->selected++;
}

/* Takes a copy's cost from the profile's bucket (lib/bucket.h): 1 if
 * there were enough tokens. The clock is read before the lock (no helper
 * may run under it); dp_bucket_refill allows for a later time another CPU
 * stored meanwhile. */
static __always_inline int police(const struct dp_profile *pr, __u32 prof,
				  __u64 cost)
{
	struct dp_policer *b = bpf_map_lookup_elem(&dp_policer, &prof);
	if (!b)
		return 1;
	__u64 now = bpf_ktime_get_ns();
	bpf_spin_lock(&b->lock);
	int ok = dp_bucket_take(&b->tokens, &b->last_ns, pr->police_rate,
				pr->police_burst, pr->police_fill_ns, cost, now);
	bpf_spin_unlock(&b->lock);
	return ok;
}

/* Evaluates profile slot `prof` once for a packet: `kinds` = 1 << kind of
 * every matched entry of the pair, len = frame length. Returns DP_SEL_*
 * in the low 8 bits and, for DP_SEL_COPY, the profile's truncation
 * (0 = whole frame) in bits 8..23 and, in bits 24..31, the entry kinds
 * the profile's direction let through (kinds & direction). */
__attribute__((noinline)) int dp_profile_select(struct __sk_buff *skb,
						struct dp_pkt *pkt, __u32 prof,
						__u32 kinds, __u32 len)
{
	if (!skb || !pkt)
		return DP_SEL_COPY;
	struct dp_profile *pr = bpf_map_lookup_elem(&dp_profile, &prof);
	if (!pr)
		return DP_SEL_COPY;
	__u32 sel = DP_SEL_COPY;
	if (!(pr->direction & kinds)) {
		sel = DP_SEL_FILTERED;
		goto out;
	}
	if (pr->nfilters) {
		if (!pkt->parsed)
			parse_l34(skb, pkt);
		int any = 0;
		for (__u32 i = 0; i < DP_MAX_FILTERS; i++) {
			if (i >= pr->nfilters)
				break;
			if (dp_filter_line(skb, &pr->filters[i], pkt)) {
				any = 1;
				break;
			}
		}
		if (!any) {
			sel = DP_SEL_FILTERED;
			goto out;
		}
	}
	if (pr->sample_thr && bpf_get_prandom_u32() >= pr->sample_thr) {
		sel = DP_SEL_SAMPLED;
		goto out;
	}
	if (pr->police_unit) {
		__u64 units = 1;
		if (pr->police_unit == DP_POLICE_BPS)
			units = pr->truncate && pr->truncate < len ? pr->truncate : len;
		if (!police(pr, prof, units * DP_TOKEN_SCALE))
			sel = DP_SEL_POLICED;
	}
out:
	prof_count(prof, sel);
	if (sel != DP_SEL_COPY)
		return (int)sel;
	return (int)((__u32)pr->truncate << 8 |
		     (__u32)(pr->direction & kinds & 0xff) << 24);
}

#endif /* EVPNMON_LIB_PROFILE_H */
