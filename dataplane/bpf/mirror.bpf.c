// SPDX-License-Identifier: GPL-2.0
/* evpn-monitor TC programs. Thin section functions; the logic lives in
 * lib/, one header per job:
 *   lib/maps.h    every map (layouts from evpnmon_shared.h)
 *   lib/stats.h   per-CPU counters
 *   lib/port.h    a port's VNI and the kinds of entries its VNI has
 *   lib/parse.h   header fields entries match on (MAC, IPv4/IPv6, one VLAN)
 *   lib/match.h   entries 1/2 -> the set of distinct copies; egress lookups
 *   lib/profile.h direction, filter, sampler, policer of a session profile
 *   lib/ceiling.h token buckets: the policers' and the mirror ceiling
 *   lib/emit.h    bpf_clone_redirect of the copies (local, VXLAN-GBP, ERSPAN)
 *   lib/erspan.h  GRE/ERSPAN II/III encapsulation and routing of a copy
 *   lib/trunc.h   cutting a copy to its truncation length
 *   lib/tunnel.h  tunnel key/GBP option layouts
 *   lib/decap.h   entry 3 at the mirror device
 *   lib/egress.h  the egress rule at a server's port
 *
 * evpnmon_mirror: TC ingress of every host-facing bridge port. For each
 *   packet, looks up entries 1 (by source MAC, source IP) and 2 (by
 *   destination MAC, destination IP) in the port's VNI, only those of the
 *   kinds the VNI has (lib/port.h) and whose dp_match_bits bit is set (a
 *   frame none of whose keys has its bit returns at once); the next packet
 *   of the same flow on the CPU reuses them while dp_match is unchanged
 *   (match.h, same_flow).
 *   It emits ONE copy per
 *   distinct action: bpf_clone_redirect to the egress of a local port, or with
 *   a VXLAN-GBP tunnel key (VNI, HOST ID as Group Policy ID, remote VTEP) to
 *   the egress of the mirror device (`vxlan external gbp`). A matched
 *   entry's session profile decides first whether it asks for a copy; the
 *   mirror ceiling (one bucket for all copies) last, right before a copy
 *   is cloned. The original is never modified: always DP_TC_NEXT (no
 *   verdict: the hook's other programs and filters decide, default pass).
 *
 * evpnmon_decap: TC ingress of the mirror device. Reads the tunnel key (VNI,
 *   outer source) and the GBP option (HOST ID); a source that is not a VTEP
 *   of the VNI (dp_decap_src): dropped and counted; then looks up entry 3
 *   and redirects the inner frame to the egress of the server's port;
 *   unknown HOST ID: dropped and counted. The copy carries DP_COPY_MARK.
 *
 * evpnmon_egress: TC egress of every host-facing bridge port. Drops an
 *   ORIGINAL frame (no DP_COPY_MARK) that the bridge floods or forwards out
 *   of a monitoring server's port when the mirror already copies it to that
 *   server: unicast, not addressed to a MAC learned on this port, and its
 *   source or destination is a host with an entry 1/2 whose action is this
 *   port (docs/dataplane.md, "Exactly-once rule"). Everything else: DP_TC_NEXT.
 *   A copy that carries a truncation length is cut here.
 *
 * evpnmon_mirror_egress: TC egress of the mirror device. Cuts a VXLAN copy
 *   that carries a truncation length, before the device encapsulates it.
 *
 * evpnmon_erspan: TC egress of the ERSPAN device (evpnmon-er). Truncates an
 *   ERSPAN copy, pushes Ethernet/IPv4/GRE/ERSPAN II or III, routes it with
 *   bpf_fib_lookup and redirects it, or hands it to the peer evpnmon-erp.
 *   No route: counted, dropped. Anything that is not a copy: dropped.
 *
 * evpnmon_erspan_hop: TC ingress of evpnmon-erp: bpf_redirect_neigh of a
 *   copy whose inner frame is not plain IPv4 or whose next hop's MAC is not
 *   known yet (lib/erspan.h says why the hop).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "lib/maps.h"
#include "lib/port.h"
#include "lib/parse.h"
#include "lib/match.h"
#include "lib/emit.h"
#include "lib/decap.h"
#include "lib/egress.h"
#include "lib/trunc.h"
#include "lib/erspan.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int evpnmon_mirror(struct __sk_buff *skb)
{
	__u32 vni;
	if (!port_vni(skb->ingress_ifindex, &vni))
		return DP_TC_NEXT;
	/* Which lookups can hit in this VNI; none: nothing to do. */
	__u32 kinds = vni_kinds(vni);
	if (!kinds)
		return DP_TC_NEXT;
	struct dp_eth eth;
	if (parse_eth(skb, &eth))
		return DP_TC_NEXT;
	struct dp_flow_key fk = {};
	fk.vni = vni;
	fk.kinds = kinds;
	read_8(fk.macs, &eth);
	read_4(fk.macs + 8, (__u8 *)&eth + 8);
	if (kinds & DP_KIND_F_IP)
		fk.alen = parse_ip_addrs(skb, &eth, fk.addrs);
	/* Most frames: no key of theirs is installed (dp_match_bits). */
	if (!may_match(&fk))
		return DP_TC_NEXT;
	__u32 zero = 0;
	struct copy_state *st = bpf_map_lookup_elem(&dp_scratch, &zero);
	if (!st)
		return DP_TC_NEXT;
	fk.gen = match_gen(st);
	st->ncopies = 0;
	st->len = frame_len(skb);
	if (!same_flow(st, &fk)) {
		st->nmatched = 0;
		st->npairs = 0;
		st->nres = 0;
		collect_packet(st, &fk);
		if (fk.gen)
			st->flow = fk;
	}
	if (!st->npairs)
		return DP_TC_NEXT;
	if (st->npairs == 1 && !st->pairs[0].prof) {
		emit_pair(skb, &st->pairs[0]);
	} else {
		select_copies(skb, st);
		if (st->ncopies)
			emit_copies(skb, st);
	}
	count_matched(st);
	return DP_TC_NEXT;
}

SEC("tc")
int evpnmon_decap(struct __sk_buff *skb)
{
	return decap(skb);
}

SEC("tc")
int evpnmon_egress(struct __sk_buff *skb)
{
	return egress(skb);
}

SEC("tc")
int evpnmon_mirror_egress(struct __sk_buff *skb)
{
	__u32 t = take_trunc(skb);
	if (t)
		truncate_copy(skb, t);
	return DP_TC_NEXT;
}

SEC("tc")
int evpnmon_erspan(struct __sk_buff *skb)
{
	return erspan_encap(skb);
}

SEC("tc")
int evpnmon_erspan_hop(struct __sk_buff *skb)
{
	return erspan_hop(skb);
}
