/* SPDX-License-Identifier: GPL-2.0 */
/* Reading the header fields that entries match on. Every read is a read
 * in place of the linear part or a bpf_skb_load_bytes copy, so the
 * original packet is never written or pulled
 * (the "original is never touched" rule) and a short frame simply matches
 * less. One VLAN tag (802.1Q or 802.1ad) is skipped in the packet bytes;
 * a tag the kernel already moved into skb metadata is not in the bytes. */
#ifndef EVPNMON_LIB_PARSE_H
#define EVPNMON_LIB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "maps.h"

/* Reads of packet bytes in place, a word at a time. A copy from the
 * packet (__builtin_memcpy) is byte by byte, as the compiler cannot know
 * the packet's alignment: 14 loads and 26 shifts and ors for an Ethernet
 * header, on every frame. The verifier takes unaligned packet reads where
 * the CPU does (x86, arm64; not under BPF_F_STRICT_ALIGNMENT). `to` is
 * the caller's, aligned to its type. */
static __always_inline void read_8(void *to, const void *from)
{
	*(__u64 *)to = *(const __u64 *)from;
}
static __always_inline void read_4(void *to, const void *from)
{
	*(__u32 *)to = *(const __u32 *)from;
}

/* An Ethernet header, aligned for word reads (struct ethhdr is 2). */
struct dp_eth {
	struct ethhdr h;
} __attribute__((aligned(8)));

/* 0 on success: *eth holds the Ethernet header. Read in place when it is
 * in the linear part (always at a bridge port: a read, not a pull; no
 * helper call on the path every frame takes), else copied out. */
static __always_inline int parse_eth(struct __sk_buff *skb, struct dp_eth *eth)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	if (data + sizeof(eth->h) <= end) {
		read_8(eth, data);
		read_4((__u8 *)eth + 8, data + 8);
		eth->h.h_proto = *(const __be16 *)(data + 12);
		return 0;
	}
	return bpf_skb_load_bytes(skb, 0, &eth->h, sizeof(eth->h));
}

/* Source then destination address of an IPv4 (4 + 4 bytes) or IPv6
 * (16 + 16 bytes) packet after at most one VLAN tag, into addrs. Returns
 * the address length (4 or 16), or 0 for other frames or a short packet.
 * The common case, an untagged IPv4 packet whose header is in the linear
 * part, is read in place (no helper call, as parse_eth). */
static __always_inline int parse_ip_addrs(struct __sk_buff *skb,
					  const struct dp_eth *eth,
					  __u8 addrs[32])
{
	__u32 off = sizeof(eth->h);
	__u16 proto = eth->h.h_proto;

	/* addrs: 8-aligned (struct dp_flow_key, or the caller's). */
	if (proto == bpf_htons(ETH_P_IP)) {
		void *data = (void *)(long)skb->data;
		void *end = (void *)(long)skb->data_end;
		if (data + off + 20 <= end) {
			read_8(addrs, data + off + 12);
			return 4;
		}
	}
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

/* The L3/L4 fields a profile's filter lines and UDFs test (struct dp_pkt
 * in maps.h): l3 = after Ethernet and at most one VLAN tag; IPv4: protocol,
 * addresses, l4 = l3 + IHL * 4 (no L4 for a non-first fragment); IPv6: the
 * fixed 40-octet header only, proto = its next header (extension headers
 * are not walked: a packet with one has no ports and no l4/l5 of the
 * inner protocol); TCP/UDP/SCTP: ports; l5 = l4 + 8 (UDP) or l4 + TCP
 * data offset * 4 (TCP, options included). A field the packet is too short
 * for stays absent, so a test on it does not match. */
#define DP_IPPROTO_TCP 6
#define DP_IPPROTO_UDP 17
#define DP_IPPROTO_SCTP 132

static __always_inline void parse_l34(struct __sk_buff *skb, struct dp_pkt *p)
{
	__u16 proto;
	__u32 off = sizeof(struct ethhdr);

	__builtin_memset(p, 0, sizeof(*p));
	p->parsed = 1;
	if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)))
		return;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		if (bpf_skb_load_bytes(skb, 16, &proto, sizeof(proto)))
			return;
		off += 4;
	}
	p->l3 = off;
	__u32 l4 = 0;
	if (proto == bpf_htons(ETH_P_IP)) {
		__u8 h[20];
		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)))
			return;
		__u32 ihl = (h[0] & 0x0f) * 4;
		if ((h[0] >> 4) != 4 || ihl < 20)
			return;
		p->family = 4;
		p->proto = h[9];
		__builtin_memcpy(p->src, &h[12], 4);
		__builtin_memcpy(p->dst, &h[16], 4);
		/* fragment offset != 0: no L4 header in this packet */
		if (((h[6] & 0x1f) | h[7]) != 0)
			return;
		l4 = off + ihl;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		__u8 h[8];
		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) ||
		    bpf_skb_load_bytes(skb, off + 8, p->src, 16) ||
		    bpf_skb_load_bytes(skb, off + 24, p->dst, 16))
			return;
		p->family = 6;
		p->proto = h[6];
		l4 = off + 40;
	} else {
		return;
	}
	if (p->proto != DP_IPPROTO_TCP && p->proto != DP_IPPROTO_UDP &&
	    p->proto != DP_IPPROTO_SCTP)
		return;
	__u16 ports[2];
	if (bpf_skb_load_bytes(skb, l4, ports, sizeof(ports)))
		return;
	p->l4 = l4;
	p->has_ports = 1;
	p->sport = bpf_ntohs(ports[0]);
	p->dport = bpf_ntohs(ports[1]);
	if (p->proto == DP_IPPROTO_UDP) {
		p->l5 = l4 + 8;
	} else if (p->proto == DP_IPPROTO_TCP) {
		__u8 doff;
		if (bpf_skb_load_bytes(skb, l4 + 12, &doff, 1))
			return;
		if ((doff >> 4) >= 5)
			p->l5 = l4 + (doff >> 4) * 4;
	}
}

/* Frame length as sent by the host: the kernel has already moved an
 * 802.1Q tag into skb metadata (and out of skb->len) before TC. */
static __always_inline __u32 frame_len(const struct __sk_buff *skb)
{
	return skb->len + (skb->vlan_present ? 4 : 0);
}

#endif /* EVPNMON_LIB_PARSE_H */
