/* SPDX-License-Identifier: GPL-2.0 */
/* ERSPAN copies (docs/dataplane.md, "ERSPAN copies"). The mirror program
 * clones a copy to the egress of the ERSPAN device (a veth pair
 * evpnmon-er/evpnmon-erp) with its destination slot, truncation and
 * direction in skb->mark (evpnmon_shared.h). There evpnmon_erspan:
 *
 *  1. reads the original's 802.1Q tag (kernel metadata or frame bytes);
 *  2. routes the collector with bpf_fib_lookup (an input lookup on the
 *     ERSPAN device, which has forwarding on: the helper refuses devices
 *     without it), with the outer length, which gives the route's MTU when
 *     the copy would not fit;
 *  3. cuts the copy to the profile's truncation and to what the MTU
 *     leaves (bpf_skb_change_tail, before any header is pushed: it
 *     refuses encapsulated skbs), which also ends a GSO super-packet;
 *  4. puts a tag the kernel held in metadata back into the inner frame,
 *     and pushes the outer headers with bpf_skb_change_head (any inner
 *     protocol, ARP included: bpf_skb_adjust_room refuses non-IP);
 *  5. writes Ethernet, IPv4 (checksum), GRE (S, per-slot sequence) and
 *     the ERSPAN II or III header;
 *  6. sends it: bpf_redirect to the route's device when the neighbour is
 *     known and the skb's protocol is IPv4 (the inner frame was untagged
 *     IPv4). Otherwise skb->protocol still names the inner frame (ARP,
 *     IPv6, 802.1Q), which bpf_redirect_neigh dispatches on and which a
 *     device's offloads trust, and no BPF helper can change it: the copy
 *     goes out of evpnmon-er to its peer, whose receive path sets the
 *     protocol from the outer Ethernet header (IPv4), and
 *     evpnmon_erspan_hop at the peer's ingress calls bpf_redirect_neigh.
 *
 * Frames on the ERSPAN device that are not copies (nothing else should be
 * sent there) are dropped. */
#ifndef EVPNMON_LIB_ERSPAN_H
#define EVPNMON_LIB_ERSPAN_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "erspan_wire.h" /* proto/erspan: the bit layouts the collector decodes */
#include "maps.h"
#include "parse.h"
#include "stats.h"

#define DP_AF_INET 2
#define DP_IPPROTO_GRE 47
/* bpf_fib_lookup: fill ipv4_src with the route's preferred source (kernel
 * >= 6.8; the Debian 12 uapi header predates it). */
#define DP_FIB_LOOKUP_SRC (1U << 4)

/* Outer headers of an ERSPAN copy. Type II uses the first 50 octets
 * (w[0..1]); type III all 62 (w[0..2] and the platform subheader). */
struct erspan_outer {
	__u8 dmac[6];
	__u8 smac[6];
	__be16 eth_proto;
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__be16 check;
	__be32 saddr;
	__be32 daddr;
	__be16 gre_flags;
	__be16 gre_proto;
	__be32 gre_seq;
	__be32 w[5];
} __attribute__((packed));

#define ERSPAN_L2 14
/* Ethernet + IPv4 (no options) + GRE with S + ERSPAN II, or III with the
 * platform subheader. */
#define ERSPAN_HLEN_II (ERSPAN_L2 + 20 + GRE_BASE_HLEN + 4 + ERSPAN_II_HLEN)
#define ERSPAN_HLEN_III                                                        \
	(ERSPAN_L2 + 20 + GRE_BASE_HLEN + 4 + ERSPAN_III_HLEN + ERSPAN_III_SUB_HLEN)
_Static_assert(ERSPAN_HLEN_II == 50, "ERSPAN II outer headers");
_Static_assert(ERSPAN_HLEN_III == sizeof(struct erspan_outer),
	       "ERSPAN III outer headers");

static __always_inline __u16 ipv4_csum(const struct erspan_outer *h)
{
	const __u8 *p = (const __u8 *)h + ERSPAN_L2;
	__u32 sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (__u32)p[i] << 8 | p[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Cuts the skb to `cut` octets; for a CHECKSUM_PARTIAL skb that the kernel
 * will not cut before the end of its L4 checksum field, to that end
 * instead (as lib/trunc.h). Returns the new skb length, 0 on failure.
 * A cut to the current length only ends GSO. */
static __always_inline __u32 erspan_cut(struct __sk_buff *skb, __u32 cut,
					__u32 max)
{
	if (!bpf_skb_change_tail(skb, cut, 0))
		return cut;
	struct dp_pkt p = {};
	parse_l34(skb, &p);
	__u32 min = 0;
	if (p.l4 && p.proto == DP_IPPROTO_TCP)
		min = p.l4 + 18;
	else if (p.l4 && p.proto == DP_IPPROTO_UDP)
		min = p.l4 + 8;
	if (min > cut && min <= max && min <= skb->len &&
	    !bpf_skb_change_tail(skb, min, 0))
		return min;
	return 0;
}

/* TC verdict for a frame leaving the ERSPAN device (evpnmon-er). */
static __always_inline int erspan_encap(struct __sk_buff *skb)
{
	__u32 mark = skb->mark;
	__u32 zero = 0;
	__u32 slot = mark & DP_ERSPAN_SLOT_MASK;
	struct dp_config *cfg = bpf_map_lookup_elem(&dp_config, &zero);
	struct dp_erspan *d = bpf_map_lookup_elem(&dp_erspan, &slot);
	struct dp_erspan_stats *es = bpf_map_lookup_elem(&dp_erspan_stats, &slot);
	if ((mark & (DP_ERSPAN_MARK | DP_ERSPAN_HOP)) != DP_ERSPAN_MARK || !slot ||
	    !cfg || !d || !es || !d->collector ||
	    (d->version != 2 && d->version != 3)) {
		stat_add(&dp_gstats, DP_GSTAT_ERSPAN_FOREIGN, 1, skb->len, 1);
		return TC_ACT_SHOT;
	}
	const __u32 v3 = d->version == 3;
	const __u32 hlen = v3 ? ERSPAN_HLEN_III : ERSPAN_HLEN_II;
	const __u32 l3hdr = hlen - ERSPAN_L2; /* IPv4 + GRE + ERSPAN */
	const __u32 trunc = (mark & DP_TRUNC_MASK) >> DP_TRUNC_SHIFT;
	const __u32 gso = skb->gso_size != 0;
	const __u32 ingress = skb->ingress_ifindex;

	/* The original's tag: moved into metadata by the kernel (real
	 * traffic) or still in the frame (QinQ's inner tag, test frames). */
	const __u32 meta_tag = skb->vlan_present;
	const __u32 tagadj = meta_tag ? 4 : 0;
	__u32 tci = 0, tagged = 0;
	__be16 tpid = 0;
	if (meta_tag) {
		tci = skb->vlan_tci;
		tpid = (__be16)skb->vlan_proto;
		tagged = 1;
	} else {
		__u8 t[4];
		if (!bpf_skb_load_bytes(skb, 12, t, 4) &&
		    ((t[0] == 0x81 && t[1] == 0x00) || (t[0] == 0x88 && t[1] == 0xa8))) {
			tci = (__u32)t[2] << 8 | t[3];
			tagged = 1;
		}
	}
	/* The frame as the host sent it, and what of it the copy carries. */
	const __u32 orig = skb->len + tagadj;
	__u32 len = orig;
	if (trunc && trunc < len)
		len = trunc;

	struct bpf_fib_lookup fib = {};
	fib.family = DP_AF_INET;
	fib.tos = d->dscp << 2;
	fib.l4_protocol = DP_IPPROTO_GRE;
	fib.tot_len = len + l3hdr > 0xffff ? 0xffff : len + l3hdr;
	fib.ipv4_src = cfg->local_vtep;
	fib.ipv4_dst = d->collector;
	fib.ifindex = cfg->erspan_ifindex;
	const __u32 flags = cfg->local_vtep ? 0 : DP_FIB_LOOKUP_SRC;
	long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), flags);
	__u32 mtu_cut = 0;
	__u32 room = 0xffff; /* inner octets the route's MTU leaves */
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		/* The outer packet would exceed the route's MTU: the inner
		 * frame is cut to what is left (GSO super-packets always). */
		__u32 mtu = fib.mtu_result;
		if (mtu < l3hdr + 64) {
			es->errors++;
			return TC_ACT_SHOT;
		}
		room = mtu - l3hdr;
		if (len > room) {
			len = room;
			mtu_cut = 1;
		}
		__builtin_memset(&fib, 0, sizeof(fib));
		fib.family = DP_AF_INET;
		fib.tos = d->dscp << 2;
		fib.l4_protocol = DP_IPPROTO_GRE;
		fib.tot_len = len + l3hdr;
		fib.ipv4_src = cfg->local_vtep;
		fib.ipv4_dst = d->collector;
		fib.ifindex = cfg->erspan_ifindex;
		rc = bpf_fib_lookup(skb, &fib, sizeof(fib), flags);
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) {
		es->no_route++;
		return TC_ACT_SHOT;
	}

	/* Truncate first: bpf_skb_change_tail refuses once headers are
	 * pushed as an encapsulation, and resets GSO (a cut GSO copy, or one
	 * that fits, leaves as one frame). */
	if (len < orig || gso) {
		__u32 got = erspan_cut(skb, len - tagadj, room - tagadj);
		if (!got) {
			es->errors++;
			return TC_ACT_SHOT;
		}
		len = got + tagadj;
	}
	if (mtu_cut)
		es->mtu_truncated++;
	if (meta_tag && bpf_skb_vlan_pop(skb)) {
		es->errors++;
		return TC_ACT_SHOT;
	}
	const __u32 push = hlen + tagadj;
	if (bpf_skb_change_head(skb, push, 0)) {
		es->errors++;
		return TC_ACT_SHOT;
	}
	if (meta_tag) {
		/* The tag goes back between the inner MACs and EtherType. */
		__u8 macs[12];
		__u8 tag[4] = {(__u8)(bpf_ntohs(tpid) >> 8), (__u8)bpf_ntohs(tpid),
			       (__u8)(tci >> 8), (__u8)tci};
		if (bpf_skb_load_bytes(skb, push, macs, 12) ||
		    bpf_skb_store_bytes(skb, hlen, macs, 12, 0) ||
		    bpf_skb_store_bytes(skb, hlen + 12, tag, 4, 0)) {
			es->errors++;
			return TC_ACT_SHOT;
		}
	}
	const __u32 inner = skb->len - hlen;

	__u32 *seqp = bpf_map_lookup_elem(&dp_erspan_seq, &slot);
	if (!seqp) {
		es->errors++;
		return TC_ACT_SHOT;
	}
	const __u32 seq = __sync_fetch_and_add(seqp, 1);

	struct erspan_outer h = {};
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		__builtin_memcpy(h.dmac, fib.dmac, 6);
		__builtin_memcpy(h.smac, fib.smac, 6);
	}
	h.eth_proto = bpf_htons(ETH_P_IP);
	h.ver_ihl = 0x45;
	h.tos = d->dscp << 2;
	h.tot_len = bpf_htons(skb->len - ERSPAN_L2);
	h.id = bpf_htons(seq & 0xffff);
	h.ttl = d->ttl;
	h.protocol = DP_IPPROTO_GRE;
	h.saddr = cfg->local_vtep ? cfg->local_vtep : fib.ipv4_src;
	h.daddr = d->collector;
	h.check = bpf_htons(ipv4_csum(&h));
	h.gre_flags = bpf_htons(GRE_FLAG_S);
	h.gre_proto = bpf_htons(d->gre_proto);
	h.gre_seq = bpf_htonl(seq);

	const __u32 t = inner < orig;
	const __u32 vid = tci & ERSPAN_VLAN_MASK, pcp = tci >> 13;
	if (!v3) {
		h.w[0] = bpf_htonl(erspan_pack_w0(ERSPAN_VER_II, vid, pcp,
						  tagged ? ERSPAN_EN_TAG_KEPT : ERSPAN_EN_NONE,
						  t, d->span_id));
		h.w[1] = bpf_htonl(erspan_ii_pack_w1(ingress));
	} else {
		/* Bad/short/oversized of the original frame; each segment of
		 * a GSO super-packet was a frame of valid size. */
		__u32 bso = 0;
		if (!gso && orig < 60)
			bso = ERSPAN_BSO_SHORT;
		else if (!gso && orig > 1514 + (tagged ? 4 : 0))
			bso = ERSPAN_BSO_OVERSIZED;
		/* UNIX time (UTC) in 100 ns units. */
		const __u64 ts = (bpf_ktime_get_tai_ns() - cfg->tai_offset_ns) / 100;
		const __u32 d_bit = (mark & DP_ERSPAN_TO_HOST) ? 1 : 0;
		h.w[0] = bpf_htonl(erspan_pack_w0(ERSPAN_VER_III, vid, pcp, bso, t,
						  d->span_id));
		h.w[1] = bpf_htonl((__u32)ts);
		/* SGT 0, P 1 (no preamble/FCS), Ethernet, HW ID, D, 100 ns, and
		 * the subheader that carries the timestamp's upper 32 bits. */
		h.w[2] = bpf_htonl(erspan_iii_pack_w2(0, 1, ERSPAN_FT_ETHERNET,
						      cfg->erspan_hw_id, d_bit,
						      ERSPAN_GRA_100NS, 1));
		h.w[3] = bpf_htonl(erspan_sub_pack_w0(ERSPAN_PLATFORM_TS_HIGH,
						      ingress & ERSPAN_PLAT3_PORT_MASK));
		h.w[4] = bpf_htonl((__u32)(ts >> 32));
	}
	long err = v3 ? bpf_skb_store_bytes(skb, 0, &h, ERSPAN_HLEN_III, 0)
		      : bpf_skb_store_bytes(skb, 0, &h, ERSPAN_HLEN_II, 0);
	if (err) {
		es->errors++;
		return TC_ACT_SHOT;
	}
	es->packets++;
	es->bytes += inner;
	if (rc == BPF_FIB_LKUP_RET_SUCCESS && skb->protocol == bpf_htons(ETH_P_IP)) {
		skb->mark = 0;
		return bpf_redirect(fib.ifindex, 0);
	}
	skb->mark = DP_ERSPAN_MARK | DP_ERSPAN_HOP |
		    (fib.ifindex & DP_ERSPAN_HOP_IFINDEX_MASK);
	return TC_ACT_OK;
}

/* TC verdict at the ingress of the ERSPAN device's peer (evpnmon-erp): a
 * copy evpnmon_erspan sent out of evpnmon-er, its protocol now IPv4. The
 * kernel routes it again to the device the lookup chose and resolves the
 * next hop's MAC (an IPv4 or IPv6 gateway alike). */
static __always_inline int erspan_hop(struct __sk_buff *skb)
{
	const __u32 mark = skb->mark;
	if ((mark & (DP_ERSPAN_MARK | DP_ERSPAN_HOP)) != (DP_ERSPAN_MARK | DP_ERSPAN_HOP) ||
	    skb->protocol != bpf_htons(ETH_P_IP)) {
		stat_add(&dp_gstats, DP_GSTAT_ERSPAN_FOREIGN, 1, skb->len, 1);
		return TC_ACT_SHOT;
	}
	skb->mark = 0;
	return bpf_redirect_neigh(mark & DP_ERSPAN_HOP_IFINDEX_MASK, NULL, 0, 0);
}

#endif /* EVPNMON_LIB_ERSPAN_H */
