/* SPDX-License-Identifier: GPL-2.0 */
/* Per-CPU counters: per entry (dp_stats, by stat index) and global events
 * (dp_gstats, by DP_GSTAT_*). Userspace sums the CPUs. */
#ifndef EVPNMON_LIB_STATS_H
#define EVPNMON_LIB_STATS_H

#include "maps.h"

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

/* An entry's matched packet that its profile did not copy (DP_SEL_*). */
static __always_inline void stat_reason(__u32 idx, __u32 sel)
{
	struct dp_stats *s = bpf_map_lookup_elem(&dp_stats, &idx);
	if (!s)
		return;
	if (sel == DP_SEL_FILTERED)
		s->filtered++;
	else if (sel == DP_SEL_SAMPLED)
		s->sampled_out++;
	else
		s->policed++;
}

#endif /* EVPNMON_LIB_STATS_H */
