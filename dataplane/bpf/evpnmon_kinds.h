/* evpn-monitor dataplane: which match kinds exist, shared by the BPF
 * programs (lib/match.h, lib/egress.h) and the entry store that maintains
 * them (dataplane/src/linux/entry_store.cpp).
 *
 * One bit per (entry kind, address type) of entries 1/2, i.e. per lookup
 * the programs may make in dp_match. A program skips a lookup whose bit is
 * clear: no installed element can have such a key, so the skipped lookup
 * would have missed, and the outcome is the same as with every lookup.
 *   dp_vni_kinds[VNI]     kinds of the entries 1/2 installed in the VNI
 *                         (absent: none; the mirror program returns at
 *                         once);
 *   dp_srv_port[ifindex]  kinds of the entries 1/2 whose action is
 *                         LocalPort(ifindex) (the egress rule looks only
 *                         for those), plus DP_KIND_F_DECAP_PORT if an
 *                         entry 3 names the port.
 */
#ifndef EVPNMON_KINDS_H
#define EVPNMON_KINDS_H

#include "evpnmon_shared.h"

#define DP_KIND_F_SRC_MAC (1u << 0) /* entry 1 by source MAC */
#define DP_KIND_F_DST_MAC (1u << 1) /* entry 2 by destination MAC */
#define DP_KIND_F_SRC_V4 (1u << 2)
#define DP_KIND_F_DST_V4 (1u << 3)
#define DP_KIND_F_SRC_V6 (1u << 4)
#define DP_KIND_F_DST_V6 (1u << 5)
#define DP_KIND_F_IP                                                        \
	(DP_KIND_F_SRC_V4 | DP_KIND_F_DST_V4 | DP_KIND_F_SRC_V6 | DP_KIND_F_DST_V6)
/* dp_srv_port only: an entry 3 delivers to this port. The egress rule
 * ignores it (entry 3 never makes it drop); it keeps the port listed. */
#define DP_KIND_F_DECAP_PORT (1u << 8)

/* Size of dp_vni_kinds (VNIs with at least one entry 1/2 on this VTEP). */
#define DP_MAX_VNI_KINDS 65536

/* The bit of a dp_match_key (kind DP_KIND_SRC/DST, mtype DP_MATCH_*). */
static inline dp_u32 dp_kind_flag(dp_u8 kind, dp_u8 mtype)
{
	const dp_u32 src = kind == DP_KIND_SRC;
	if (mtype == DP_MATCH_MAC)
		return src ? DP_KIND_F_SRC_MAC : DP_KIND_F_DST_MAC;
	if (mtype == DP_MATCH_V4)
		return src ? DP_KIND_F_SRC_V4 : DP_KIND_F_DST_V4;
	if (mtype == DP_MATCH_V6)
		return src ? DP_KIND_F_SRC_V6 : DP_KIND_F_DST_V6;
	return 0;
}

#endif /* EVPNMON_KINDS_H */
