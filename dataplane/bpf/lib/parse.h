/* SPDX-License-Identifier: GPL-2.0 */
/* Reading the header fields that entries match on. Every read goes through
 * bpf_skb_load_bytes, so the original packet is never written or pulled
 * (the "original is never touched" rule) and a short frame simply matches
 * less. One VLAN tag (802.1Q or 802.1ad) is skipped in the packet bytes;
 * a tag the kernel already moved into skb metadata is not in the bytes. */
#ifndef EVPNMON_LIB_PARSE_H
#define EVPNMON_LIB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* 0 on success: *eth holds the Ethernet header. */
static __always_inline int parse_eth(struct __sk_buff *skb, struct ethhdr *eth)
{
	return bpf_skb_load_bytes(skb, 0, eth, sizeof(*eth));
}

/* Source then destination address of an IPv4 (4 + 4 bytes) or IPv6
 * (16 + 16 bytes) packet after at most one VLAN tag, into addrs. Returns
 * the address length (4 or 16), or 0 for other frames or a short packet. */
static __always_inline int parse_ip_addrs(struct __sk_buff *skb,
					  const struct ethhdr *eth,
					  __u8 addrs[32])
{
	__u32 off = sizeof(*eth);
	__u16 proto = eth->h_proto;

	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		if (bpf_skb_load_bytes(skb, off + 2, &proto, sizeof(proto)))
			proto = 0;
		off += 4;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		if (!bpf_skb_load_bytes(skb, off + 12, addrs, 8))
			return 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (!bpf_skb_load_bytes(skb, off + 8, addrs, 32))
			return 16;
	}
	return 0;
}

/* Frame length as sent by the host: the kernel has already moved an
 * 802.1Q tag into skb metadata (and out of skb->len) before TC. */
static __always_inline __u32 frame_len(const struct __sk_buff *skb)
{
	return skb->len + (skb->vlan_present ? 4 : 0);
}

#endif /* EVPNMON_LIB_PARSE_H */
