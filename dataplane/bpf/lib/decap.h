/* SPDX-License-Identifier: GPL-2.0 */
/* Entry 3: a copy decapsulated by the mirror device goes to the port of the
 * server its (VNI, HOST ID) names, with the copy mark so that the server
 * port's egress program lets it through; only if its outer source is a
 * VTEP of that VNI (dp_decap_src). Anyone who can reach the mirror port
 * could otherwise put frames on a server's port. Each drop is counted in
 * the first check it fails: no tunnel metadata, unknown source, unknown
 * HOST ID. */
#ifndef EVPNMON_LIB_DECAP_H
#define EVPNMON_LIB_DECAP_H

#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>

#include "maps.h"
#include "stats.h"
#include "tunnel.h"

/* TC verdict for a packet received on the mirror device. */
static __always_inline int decap(struct __sk_buff *skb)
{
	struct dp_tunnel_key key = {};
	struct dp_gbp_opt opt = {};
	if (bpf_skb_get_tunnel_key(skb, (struct bpf_tunnel_key *)&key,
				   sizeof(key), 0) ||
	    bpf_skb_get_tunnel_opt(skb, &opt, sizeof(opt)) < (long)sizeof(opt)) {
		stat_add(&dp_gstats, DP_GSTAT_DECAP_NOMETA, 0, 0, 1);
		return TC_ACT_SHOT;
	}
	/* The helper gives the outer source in host order. */
	struct dp_decap_src_key sk = {};
	sk.vni = key.tunnel_id;
	sk.vtep = bpf_htonl(key.remote_ipv4);
	if (!bpf_map_lookup_elem(&dp_decap_src, &sk)) {
		stat_add(&dp_tstats, DP_TSTAT_DECAP_SOURCE, 1, skb->len, 1);
		return TC_ACT_SHOT;
	}
	struct dp_decap_key dk = {};
	dk.vni = key.tunnel_id;
	dk.host_id = (__u16)(opt.gbp & 0xffff);
	struct dp_decap_val *v = bpf_map_lookup_elem(&dp_decap, &dk);
	if (!v) {
		stat_add(&dp_gstats, DP_GSTAT_DECAP_UNKNOWN, 1, skb->len, 1);
		return TC_ACT_SHOT;
	}
	stat_add(&dp_stats, v->stat_idx, 1, skb->len, 0);
	skb->mark |= DP_COPY_MARK;
	return bpf_redirect(v->ifindex, 0);
}

#endif /* EVPNMON_LIB_DECAP_H */
