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

#endif /* EVPNMON_LIB_STATS_H */
