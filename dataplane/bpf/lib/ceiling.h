/* SPDX-License-Identifier: GPL-2.0 */
/* The mirror ceiling, the one pair of buckets (bits, packets) over every
 * copy this VTEP emits (lib/emit.h takes it right before each clone). Its
 * arithmetic is lib/bucket.h, shared with a session profile's policer
 * (lib/profile.h). */
#ifndef EVPNMON_LIB_CEILING_H
#define EVPNMON_LIB_CEILING_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bucket.h"
#include "maps.h"
#include "stats.h"

/* The buckets' refusals of a copy costing bits_cost nano-bits at `now`
 * that this CPU's last refusal already proves (dp_bucket_bound_refuses),
 * without the lock and without writing the shared element; 0 if it proves
 * none. A hint holds only under the configuration it was taken with
 * (rates, fill times): a rewritten ceiling starts full. */
static __always_inline int ceiling_hint_refusals(const struct dp_ceiling_hint *h,
						 const struct dp_ceiling *c,
						 __u64 bits_cost, __u64 now)
{
	if (!h->t0 || h->bits_rate != c->bits.rate || h->bits_fill_ns != c->bits.fill_ns ||
	    h->packets_rate != c->packets.rate || h->packets_fill_ns != c->packets.fill_ns)
		return 0;
	int refused = 0;
	if (dp_bucket_bound_refuses(h->bits, h->t0, h->bits_rate, h->bits_fill_ns,
				    bits_cost, now))
		refused |= DP_BUCKET_REFUSED_FIRST;
	if (dp_bucket_bound_refuses(h->packets, h->t0, h->packets_rate,
				    h->packets_fill_ns, DP_TOKEN_SCALE, now))
		refused |= DP_BUCKET_REFUSED_SECOND;
	return refused;
}

/* The mirror ceiling: 1 if a copy of `octets` mirrored octets may be sent
 * (or the ceiling is off), 0 if it is over and must be dropped. A copy
 * passes only if both buckets (bits, packets; a rate of 0 leaves one out)
 * hold its cost, and then pays both: a copy one bucket refuses costs the
 * other nothing. Counted in dp_tstats while the ceiling is on.
 *
 * Under a flood of selected packets nearly every copy is refused, on
 * every CPU that handles them. Each refusal leaves this CPU a hint (the
 * buckets' tokens then); until a copy may pass again, the hint refuses
 * without the lock and without writing the shared element, which would
 * otherwise move between the CPUs' caches on every copy. A hint refuses
 * only what the locked buckets would refuse at the same time (bucket.h,
 * dp_bucket_bound_refuses); every other copy takes the lock and is decided
 * there. A BPF global function: verified once, not once per copy slot of
 * emit_copies(). */
__attribute__((noinline)) int dp_ceiling_take(__u32 octets)
{
	__u32 zero = 0;
	struct dp_ceiling *c = bpf_map_lookup_elem(&dp_ceiling, &zero);
	if (!c || (!c->bits.rate && !c->packets.rate))
		return 1;
	struct dp_ceiling_hint *h = bpf_map_lookup_elem(&dp_ceiling_hint, &zero);
	if (!h)
		return 1;
	/* Read before the lock (no helper may run under it): another CPU
	 * may store a later time first, which dp_bucket_refill allows for. */
	__u64 now = bpf_ktime_get_ns();
	__u64 cost = (__u64)octets * 8 * DP_TOKEN_SCALE;
	int refused = ceiling_hint_refusals(h, c, cost, now);
	if (!refused) {
		struct dp_ceiling_hint seen;
		bpf_spin_lock(&c->lock);
		refused = dp_bucket_take_both(&c->bits, cost, &c->packets, DP_TOKEN_SCALE, now);
		seen.bits = c->bits.tokens;
		seen.bits_rate = c->bits.rate;
		seen.bits_fill_ns = c->bits.fill_ns;
		seen.packets = c->packets.tokens;
		seen.packets_rate = c->packets.rate;
		seen.packets_fill_ns = c->packets.fill_ns;
		bpf_spin_unlock(&c->lock);
		if (!refused) {
			h->t0 = 0;
			stat_add(&dp_tstats, DP_TSTAT_CEIL_PASS, 1, octets, 0);
			return 1;
		}
		seen.t0 = now;
		*h = seen;
	}
	/* drops: those the packet bucket refused, in the same counter (one
	 * cache line per refusal, not two) */
	stat_add(&dp_tstats, DP_TSTAT_CEIL_DROP, 1, octets,
		 (refused & DP_BUCKET_REFUSED_SECOND) ? 1 : 0);
	return 0;
}

#endif /* EVPNMON_LIB_CEILING_H */
