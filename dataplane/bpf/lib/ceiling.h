/* SPDX-License-Identifier: GPL-2.0 */
/* The mirror ceiling, the one bucket over every copy this VTEP emits
 * (lib/emit.h takes it right before each clone). Its arithmetic is
 * lib/bucket.h, shared with a session profile's policer (lib/profile.h). */
#ifndef EVPNMON_LIB_CEILING_H
#define EVPNMON_LIB_CEILING_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bucket.h"
#include "maps.h"
#include "stats.h"

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
	/* Read before the lock (no helper may run under it): another CPU
	 * may store a later time first, which dp_bucket_refill allows for. */
	__u64 now = bpf_ktime_get_ns();
	__u64 cost = (__u64)octets * 8 * DP_TOKEN_SCALE;
	bpf_spin_lock(&c->lock);
	int ok = dp_bucket_take(&c->tokens, &c->last_ns, c->rate, c->burst,
				c->fill_ns, cost, now);
	bpf_spin_unlock(&c->lock);
	if (ok)
		stat_add(&dp_tstats, DP_TSTAT_CEIL_PASS, 1, octets, 0);
	else
		stat_add(&dp_tstats, DP_TSTAT_CEIL_DROP, 1, octets, 1);
	return ok;
}

#endif /* EVPNMON_LIB_CEILING_H */
