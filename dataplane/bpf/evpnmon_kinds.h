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
 *                         once); read through dp_vni_word (below);
 *   dp_srv_port[ifindex]  kinds of the entries 1/2 whose action is
 *                         LocalPort(ifindex) (the egress rule looks only
 *                         for those), plus DP_KIND_F_DECAP_PORT if an
 *                         entry 3 names the port; read through
 *                         dp_srv_word (below).
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

/* Direct-indexed words before the hash lookups every frame on a
 * host-facing port starts with (lib/port.h): the program reads an array
 * element inline, where a hash lookup hashes its key and walks a bucket.
 * The hash maps stay complete; the words only answer first.
 *   dp_port_word[ifindex]  DP_PORT_W_PRESENT | VNI for each host-facing
 *       port whose ifindex < DP_PORT_WORDS, 0 for any other ifindex below
 *       that; a port of a larger ifindex is read from dp_port_vni.
 *   dp_vni_word[VNI % DP_VNI_WORDS]  VNI | kinds << DP_VNI_W_KINDS_SHIFT
 *       for the one VNI of that residue that owns the word (kinds != 0),
 *       plus DP_VNI_W_SPILL while another VNI of the residue has kinds:
 *       those are read from dp_vni_kinds.
 *   dp_srv_word[ifindex]  dp_srv_port's word of each port whose ifindex <
 *       DP_PORT_WORDS (0: no entry copies to it), read by the egress
 *       program on every frame leaving a host-facing port; a port of a
 *       larger ifindex is read from dp_srv_port.
 * Each word is written by one store from userspace (mmapped). */
#define DP_PORT_WORDS 65536
#define DP_PORT_W_PRESENT (1u << 31)
#define DP_VNI_WORDS 65536
#define DP_VNI_W_VNI 0xffffffu
#define DP_VNI_W_KINDS_SHIFT 24
#define DP_VNI_W_KINDS (0x3fu << DP_VNI_W_KINDS_SHIFT)
#define DP_VNI_W_SPILL (1u << 31)

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
