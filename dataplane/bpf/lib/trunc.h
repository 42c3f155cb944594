/* SPDX-License-Identifier: GPL-2.0 */
/* Cutting a copy to its profile's truncation length, at the egress of the
 * copy's device (the server's port, or the mirror device before the VXLAN
 * encapsulation): the mirror program put the length in the copy's mark
 * (DP_TRUNC_MASK, lib/emit.h). Only copies are cut; the original is a
 * different skb.
 *
 * GSO: a TCP or UDP aggregate (veth and local stacks hand TC up to 64 KB)
 * stops being GSO once bpf_skb_change_tail cuts it, and a non-GSO frame
 * longer than the device's MTU is dropped on the way (veth forwarding,
 * the server's stack). So a GSO copy is cut to min(length, its first
 * segment's frame: headers up to the payload + gso_size), which never
 * exceeds what the sender's MTU allowed per segment.
 *
 * CHECKSUM_PARTIAL: the kernel refuses to cut before the end of the L4
 * checksum field (the checksum is still to be computed). Then the copy is
 * cut there instead: L4 offset + 18 for TCP, + 8 for UDP (IPv6 TCP at
 * 64 octets becomes 14 + 40 + 18 = 72). If even that fails the copy leaves
 * whole, counted in DP_GSTAT_TRUNC_FAILED. */
#ifndef EVPNMON_LIB_TRUNC_H
#define EVPNMON_LIB_TRUNC_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "maps.h"
#include "parse.h"
#include "stats.h"

static __always_inline void truncate_copy(struct __sk_buff *skb, __u32 len)
{
	struct dp_pkt p = {};
	if (skb->gso_size) {
		parse_l34(skb, &p);
		if (p.l5 && p.l5 + skb->gso_size < len)
			len = p.l5 + skb->gso_size;
	}
	if (len >= skb->len)
		return;
	if (!bpf_skb_change_tail(skb, len, 0))
		return;
	if (!p.parsed)
		parse_l34(skb, &p);
	__u32 min = 0;
	if (p.l4 && p.proto == DP_IPPROTO_TCP)
		min = p.l4 + 18;
	else if (p.l4 && p.proto == DP_IPPROTO_UDP)
		min = p.l4 + 8;
	if (min > len && min < skb->len && !bpf_skb_change_tail(skb, min, 0))
		return;
	stat_add(&dp_gstats, DP_GSTAT_TRUNC_FAILED, 1, skb->len, 0);
}

/* The length a copy carries in its mark (0 = none), cleared from the mark. */
static __always_inline __u32 take_trunc(struct __sk_buff *skb)
{
	__u32 t = (skb->mark & DP_TRUNC_MASK) >> DP_TRUNC_SHIFT;
	skb->mark &= ~DP_TRUNC_MASK;
	return t;
}

#endif /* EVPNMON_LIB_TRUNC_H */
