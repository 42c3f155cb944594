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

/* One bucket read without the lock; volatile, so that each field is one
 * load between the two reads of the seq count. */
static __always_inline struct dp_bucket ceiling_read(const struct dp_bucket *b)
{
	const volatile struct dp_bucket *v = b;
	struct dp_bucket r = {
		.tokens = v->tokens,
		.last_ns = v->last_ns,
		.rate = v->rate,
		.burst = v->burst,
		.fill_ns = v->fill_ns,
	};
	return r;
}

/* The refusals of a copy costing `cost` nano-bits at `now`, from both
 * buckets read without the lock, or -1 if the read was not consistent (a
 * write was under way or happened meanwhile). The seq count is read with
 * atomic instructions, which order the loads between them on every CPU
 * the JIT supports. */
static __always_inline int ceiling_refusals_unlocked(struct dp_ceiling *c, __u64 cost,
						     __u64 now)
{
	__u32 s1 = __sync_fetch_and_add(&c->seq, 0);
	if (s1 & 1)
		return -1;
	struct dp_bucket bits = ceiling_read(&c->bits);
	struct dp_bucket packets = ceiling_read(&c->packets);
	if (__sync_fetch_and_add(&c->seq, 0) != s1)
		return -1;
	return dp_bucket_refusals(bits, cost, packets, DP_TOKEN_SCALE, now);
}

/* The mirror ceiling: 1 if a copy of `octets` mirrored octets may be sent
 * (or the ceiling is off), 0 if it is over and must be dropped. A copy
 * passes only if both buckets (bits, packets; a rate of 0 leaves one out)
 * hold its cost, and then pays both: a copy one bucket refuses costs the
 * other nothing. Counted in dp_tstats while the ceiling is on.
 *
 * A refusal is decided from a consistent read without the lock: over the
 * ceiling, under a flood of selected packets, that is the common case, and
 * it then costs no lock (whose IRQ save and restore are not cheap under
 * some hypervisors) and no write to the shared element. The decision is
 * the one the lock holder would make at the same time (dp_bucket_refusals
 * says why); only a copy that may pass takes the lock and decides again.
 * A BPF global function: verified once, not once per copy slot of
 * emit_copies(). */
__attribute__((noinline)) int dp_ceiling_take(__u32 octets)
{
	__u32 zero = 0;
	struct dp_ceiling *c = bpf_map_lookup_elem(&dp_ceiling, &zero);
	if (!c || (!c->bits.rate && !c->packets.rate))
		return 1;
	/* Read before the lock (no helper may run under it): another CPU
	 * may store a later time first, which dp_bucket_refill allows for. */
	__u64 now = bpf_ktime_get_ns();
	__u64 cost = (__u64)octets * 8 * DP_TOKEN_SCALE;
	int refused = ceiling_refusals_unlocked(c, cost, now);
	if (refused <= 0) {
		bpf_spin_lock(&c->lock);
		__sync_fetch_and_add(&c->seq, 1);
		refused = dp_bucket_take_both(&c->bits, cost, &c->packets, DP_TOKEN_SCALE, now);
		__sync_fetch_and_add(&c->seq, 1);
		bpf_spin_unlock(&c->lock);
	}
	if (!refused) {
		stat_add(&dp_tstats, DP_TSTAT_CEIL_PASS, 1, octets, 0);
		return 1;
	}
	stat_add(&dp_tstats, DP_TSTAT_CEIL_DROP, 1, octets, 1);
	if (refused & DP_BUCKET_REFUSED_SECOND)
		stat_add(&dp_tstats, DP_TSTAT_CEIL_DROP_PKT, 1, octets, 1);
	return 0;
}

#endif /* EVPNMON_LIB_CEILING_H */
