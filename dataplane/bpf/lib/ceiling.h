/* SPDX-License-Identifier: GPL-2.0 */
/* Token buckets: the refill-and-take step shared by a session profile's
 * policer (lib/profile.h) and the mirror ceiling, the one bucket over every
 * copy this VTEP emits (lib/emit.h takes it right before each clone). */
#ifndef EVPNMON_LIB_CEILING_H
#define EVPNMON_LIB_CEILING_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "maps.h"
#include "stats.h"

/* Call with the bucket's lock held. Refill: rate tokens per second, capped
 * at the burst; an idle bucket (longer than the fill time, never used:
 * last_ns 0, or a clock that went back) is full. Returns 1 and takes `cost`
 * if there were enough tokens. */
static __always_inline int bucket_take(__u64 *tokens, __u64 *last_ns, __u64 rate,
				       __u64 burst, __u64 fill_ns, __u64 cost,
				       __u64 now)
{
	__u64 elapsed = now - *last_ns;
	if (!*last_ns || elapsed >= fill_ns || now < *last_ns) {
		*tokens = burst;
	} else {
		/* elapsed < fill_ns = burst / rate: no overflow */
		__u64 t = *tokens + elapsed * rate;
		*tokens = t < burst ? t : burst;
	}
	*last_ns = now;
	if (*tokens < cost)
		return 0;
	*tokens -= cost;
	return 1;
}

/* The mirror ceiling: 1 if a copy of `octets` mirrored octets may be sent
 * (or the ceiling is off), 0 if it is over and must be dropped. Counted in
 * dp_tstats while the ceiling is on. A BPF global function: verified once,
 * not once per copy slot of emit_copies(). */
__attribute__((noinline)) int dp_ceiling_take(__u32 octets)
{
	__u32 zero = 0;
	struct dp_ceiling *c = bpf_map_lookup_elem(&dp_ceiling, &zero);
	if (!c || !c->rate)
		return 1;
	__u64 now = bpf_ktime_get_ns();
	__u64 cost = (__u64)octets * 8 * DP_TOKEN_SCALE;
	bpf_spin_lock(&c->lock);
	int ok = bucket_take(&c->tokens, &c->last_ns, c->rate, c->burst, c->fill_ns,
			     cost, now);
	bpf_spin_unlock(&c->lock);
	if (ok)
		stat_add(&dp_tstats, DP_TSTAT_CEIL_PASS, 1, octets, 0);
	else
		stat_add(&dp_tstats, DP_TSTAT_CEIL_DROP, 1, octets, 1);
	return ok;
}

#endif /* EVPNMON_LIB_CEILING_H */
