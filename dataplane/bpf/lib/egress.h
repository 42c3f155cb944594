/* SPDX-License-Identifier: GPL-2.0 */
/* The egress rule (docs/dataplane.md, "Flooded originals at the server's
 * port"): an ORIGINAL frame the bridge floods or forwards out of a
 * monitoring server's port is dropped when the mirror already copies it to
 * that server. Copies carry DP_COPY_MARK and always pass. */
#ifndef EVPNMON_LIB_EGRESS_H
#define EVPNMON_LIB_EGRESS_H

#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include "maps.h"
#include "match.h"
#include "parse.h"
#include "port.h"
#include "stats.h"
#include "trunc.h"

/* 0 if the keys the MAC part of the rule looks up (watched(): entry 2 of
 * the destination and of the source, entry 1 of the source, of the kinds
 * the port's entries have) all have their dp_match_bits bit clear: no
 * entry can name the frame's hosts. Asked first, so that the common frame
 * pays one bit per key and nothing else. */
static __always_inline int macs_may_be_watched(__u32 vni, __u32 kinds,
					       const struct dp_eth *eth)
{
	const __u64 *bits = match_bits();
	if (!bits)
		return 0;
	const __u32 mask = dp_match_bits_mask;
	const __u8 *macs = (const __u8 *)eth;
	struct dp_match_key key = {};
	key.vni = vni;
	key.mtype = DP_MATCH_MAC;
	if (kinds & DP_KIND_F_DST_MAC) {
		key.kind = DP_KIND_DST;
		write_mac(key.addr, macs, 0);
		if (bit_set(bits, mask, &key))
			return 1;
		write_mac(key.addr, macs, 1);
		if (bit_set(bits, mask, &key))
			return 1;
	}
	if (kinds & DP_KIND_F_SRC_MAC) {
		key.kind = DP_KIND_SRC;
		write_mac(key.addr, macs, 1);
		if (bit_set(bits, mask, &key))
			return 1;
	}
	return 0;
}

/* TC verdict for a frame leaving host-facing port skb->ifindex. */
static __always_inline int egress(struct __sk_buff *skb)
{
	if (skb->mark & DP_COPY_MARK) {
		skb->mark &= ~DP_COPY_MARK; /* a mirror copy: always sent */
		__u32 t = take_trunc(skb);
		if (t)
			truncate_copy(skb, t);
		return DP_TC_NEXT;
	}
	__u32 ifindex = skb->ifindex;
	/* The kinds of the entries 1/2 that copy to this port: without any
	 * (no monitoring server here, or one that only an entry 3 names), no
	 * frame leaving it can be a duplicate. */
	__u32 kinds = srv_port_kinds(ifindex);
	if (!kinds)
		return DP_TC_NEXT;
	__u32 vni;
	if (!port_vni(ifindex, &vni))
		return DP_TC_NEXT;
	struct dp_eth eth;
	if (parse_eth(skb, &eth))
		return DP_TC_NEXT;
	if (eth.h.h_dest[0] & 1)
		return DP_TC_NEXT; /* broadcast/multicast: never dropped */
	if (!(kinds & DP_KIND_F_IP) && !macs_may_be_watched(vni, kinds, &eth))
		return DP_TC_NEXT;
	/* Same keys as the mirror program, MAC first, only of the kinds this
	 * port's entries have; the IP addresses are read only when the MACs
	 * name no watched host and IP entries copy to this port. */
	struct dp_match_key key = {};
	key.vni = vni;
	key.mtype = DP_MATCH_MAC;
	int dup = watched(&key, eth.h.h_dest, 6, 0, ifindex, kinds) ||
		  watched(&key, eth.h.h_source, 6, 1, ifindex, kinds);
	if (!dup && (kinds & DP_KIND_F_IP)) {
		__u8 addrs[32] __attribute__((aligned(8)));
		int alen = parse_ip_addrs(skb, &eth, addrs);
		if (alen == 4) {
			key.mtype = DP_MATCH_V4;
			dup = watched(&key, addrs + 4, 4, 0, ifindex, kinds) ||
			      watched(&key, addrs, 4, 1, ifindex, kinds);
		} else if (alen == 16) {
			key.mtype = DP_MATCH_V6;
			dup = watched(&key, addrs + 16, 16, 0, ifindex, kinds) ||
			      watched(&key, addrs, 16, 1, ifindex, kinds);
		}
	}
	if (!dup)
		return DP_TC_NEXT;
	/* Asked only of a frame the rule would drop: most frames leaving the
	 * port name no watched host and pass on the lookups above alone. */
	struct dp_mac_key mk = {};
	mk.vni = vni;
	__builtin_memcpy(mk.mac, eth.h.h_dest, 6);
	__u32 *at = bpf_map_lookup_elem(&dp_local_mac, &mk);
	if (at && *at == ifindex)
		return DP_TC_NEXT; /* addressed to the server itself */
	stat_add(&dp_gstats, DP_GSTAT_EGRESS_DUP, 1, frame_len(skb), 1);
	return TC_ACT_SHOT;
}

#endif /* EVPNMON_LIB_EGRESS_H */
