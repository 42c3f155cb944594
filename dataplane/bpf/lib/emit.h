/* SPDX-License-Identifier: GPL-2.0 */
/* Sending the copies a packet asked for (match.h): bpf_clone_redirect to
 * the egress of a local port, or with a VXLAN-GBP tunnel key to the egress
 * of the mirror device. Always to an egress, never to a host port's
 * ingress, so a copy is never mirrored again. */
#ifndef EVPNMON_LIB_EMIT_H
#define EVPNMON_LIB_EMIT_H

#include <bpf/bpf_endian.h>

#include "ceiling.h"
#include "maps.h"
#include "parse.h"
#include "stats.h"
#include "tunnel.h"

/* emit(): the copy was not sent because it is over the mirror ceiling (not
 * an error, not a helper's return value, which are <= 0 or NET_XMIT_*). */
#define DP_EMIT_OVER_CEILING 0x100

/* 0 if the copy was handed to its device. trunc: the copy's length
 * (0 = whole frame). bpf_skb_change_tail cannot cut here (it would cut the
 * original) nor after the VXLAN encapsulation (it refuses an skb marked
 * encapsulated), so the length rides in the clone's mark
 * (DP_TRUNC_MASK) to the egress program of the copy's device, which cuts
 * (lib/trunc.h). */
static __always_inline int emit(struct __sk_buff *skb, const struct dp_action *a,
				__u32 trunc, __u32 kinds)
{
	/* The mirror ceiling is taken right before each clone, after every
	 * profile's own policer and after every check that could still fail
	 * the copy (configuration), so that only copies that are really sent
	 * are charged and counted as passed. It comes before anything is set
	 * on the skb (mark, tunnel key): a refused copy, the common case
	 * under a flood, costs no more than the bucket. */
	__u32 flen = frame_len(skb);
	__u32 charge = trunc && trunc < flen ? trunc : flen;
	__u32 mark = skb->mark;
	__u32 tbits = 0;
	if (trunc && trunc < skb->len)
		tbits = (trunc << DP_TRUNC_SHIFT) & DP_TRUNC_MASK;
	if (a->kind == DP_ACT_LOCAL) {
		if (!dp_ceiling_take(charge))
			return DP_EMIT_OVER_CEILING;
		/* The clone carries the copy mark; the original keeps its own. */
		skb->mark = (mark & ~DP_TRUNC_MASK) | DP_COPY_MARK | tbits;
		int err = bpf_clone_redirect(skb, a->ifindex, 0);
		skb->mark = mark;
		return err;
	}

	__u32 zero = 0;
	struct dp_config *cfg = bpf_map_lookup_elem(&dp_config, &zero);
	if (!cfg)
		return -1;
	if (a->kind == DP_ACT_ERSPAN) {
		/* The whole mark of the clone is the ERSPAN metadata
		 * (evpnmon_shared.h): slot, truncation, direction. The
		 * truncation is compared with the frame as the host sent it
		 * (a tag the kernel moved to metadata included), as the
		 * ERSPAN program measures it. D = 1 only when no entry 1
		 * selected the copy. */
		if (!cfg->erspan_ifindex)
			return -1;
		if (!dp_ceiling_take(charge))
			return DP_EMIT_OVER_CEILING;
		__u32 m = DP_ERSPAN_MARK | (a->ifindex & DP_ERSPAN_SLOT_MASK);
		if (trunc && trunc < frame_len(skb))
			m |= (trunc << DP_TRUNC_SHIFT) & DP_TRUNC_MASK;
		if (!(kinds & (1u << DP_KIND_SRC)))
			m |= DP_ERSPAN_TO_HOST;
		skb->mark = m;
		int err = bpf_clone_redirect(skb, cfg->erspan_ifindex, 0);
		skb->mark = mark;
		return err;
	}
	if (a->kind != DP_ACT_VXLAN || !cfg->mirror_ifindex)
		return -1; /* no mirror device; kind 0 never gets here */
	/* The key and option below cannot fail (a fixed size, flags 0, the
	 * option right after its key), so a copy the ceiling passes is sent.
	 * They stay in the skb's metadata after the clone: the next VXLAN
	 * copy sets its own, local and ERSPAN copies went first
	 * (emit_copies). */
	if (!dp_ceiling_take(charge))
		return DP_EMIT_OVER_CEILING;
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
	if (!tbits)
		return bpf_clone_redirect(skb, cfg->mirror_ifindex, 0);
	/* evpnmon_mirror_egress clears the length before the VXLAN device
	 * routes the copy by its mark. */
	skb->mark = (mark & ~DP_TRUNC_MASK) | tbits;
	err = bpf_clone_redirect(skb, cfg->mirror_ifindex, 0);
	skb->mark = mark;
	return err;
}

/* The outcome of an emit(). */
static __always_inline __u8 emit_outcome(int err)
{
	if (!err)
		return DP_SEL_COPY;
	return err == DP_EMIT_OVER_CEILING ? DP_SEL_POLICED : DP_SEL_FAILED;
}

/* Sends every copy in st, then gives each pair that selected one the
 * copy's outcome (count_matched counts it on the pair's entries). */
static __always_inline void emit_copies(struct __sk_buff *skb,
					struct copy_state *st)
{
	/* Local and ERSPAN copies first, then VXLAN copies: the tunnel key
	 * set for a VXLAN copy stays attached to the skb's metadata (never to
	 * its bytes) and must not travel with another copy. */
	for (__u32 pass = 0; pass < 2; pass++) {
		for (__u32 j = 0; j < DP_MAX_COPIES; j++) {
			if (j >= st->ncopies)
				break;
			struct dp_copy *c = &st->copies[j];
			if ((pass == 0) == (c->action.kind == DP_ACT_VXLAN))
				continue;
			c->sel = emit_outcome(emit(skb, &c->action, c->trunc, c->kinds));
		}
	}
	for (__u32 j = 0; j < DP_MAX_MATCHED; j++) {
		if (j >= st->npairs)
			break;
		__s8 c = st->pairs[j].copy;
		if (c >= 0 && c < DP_MAX_COPIES)
			st->pairs[j].sel = st->copies[c].sel;
	}
}

/* The common packet: one (action, profile) pair and no profile (sessions
 * without options), so one whole copy of its action, as select_copies and
 * emit_copies would make it, without their bookkeeping. */
static __always_inline void emit_pair(struct __sk_buff *skb, struct dp_pair *p)
{
	if (p->action.kind == DP_ACT_NONE) {
		p->sel = DP_SEL_NO_TARGET; /* as dp_select_pair */
		return;
	}
	p->sel = emit_outcome(emit(skb, &p->action, 0, p->kinds));
}

#endif /* EVPNMON_LIB_EMIT_H */
