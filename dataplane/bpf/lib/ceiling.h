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

/* The mirror ceiling: 1 if a copy of `octets` mirrored octets may be sent
 * (or the ceiling is off), 0 if it is over and must be dropped. A copy
 * passes only if both buckets (bits, packets; a rate of 0 leaves one out)
 * hold its cost, and then pays both: a copy one bucket refuses costs the
 * other nothing. Counted in dp_tstats while the ceiling is on. A BPF global
 * function: verified once, not once per copy slot of emit_copies(). */
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
	bpf_spin_lock(&c->lock);
	int refused = dp_bucket_take_both(&c->bits, cost, &c->packets, DP_TOKEN_SCALE, now);
	bpf_spin_unlock(&c->lock);
	if (!refused) {
		stat_add(&dp_tstats, DP_TSTAT_CEIL_PASS, 1, octets, 0);
		return 1;
	}
	/* drops: those the packet bucket refused, in the same counter (one
	 * cache line per refusal, not two) */
	stat_add(&dp_tstats, DP_TSTAT_CEIL_DROP, 1, octets,
		 (refused & DP_BUCKET_REFUSED_SECOND) ? 1 : 0);
	return 0;
}

#endif /* EVPNMON_LIB_CEILING_H */
