// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * evpn-monitor bgpd module: monitor-config EVPN route type (254).
 * Internal interface between the module's files.
 */
#ifndef _BGP_EVPN_MON_H
#define _BGP_EVPN_MON_H

#include "lib/linklist.h"
#include "lib/prefix.h"
#include "lib/ipaddr.h"
#include "lib/json.h"

#include "bgpd/bgpd.h"

#include "bgpd/evpn_mon_codec.h"

struct bgpevpn;
struct vty;

/* "monitor server HOST-ID mac M [ip A]" */
struct mon_server {
	uint32_t host_id;
	struct ethaddr mac;
	struct ipaddr ip; /* IPADDR_NONE when not given */
};

/* "monitor host vni V [mac M] [ip A] server HOST-ID": one session. */
struct mon_host {
	vni_t vni;
	bool has_mac;
	struct ethaddr mac;
	struct ipaddr ip; /* IPADDR_NONE when not given */
	uint32_t host_id;
	struct listnode *node;    /* in evpn_mon.hosts */
	struct listnode *pending; /* in the pending queue, or NULL */

	/* What this leaf originates for it now (for withdrawal under the
	 * RD/key it was advertised with, even after they changed). */
	bool originated;
	struct prefix_evpn adv_p;
	struct prefix_rd adv_prd;
};

struct evpn_mon_stats {
	uint64_t rx_routes;
	uint64_t rx_withdraws;
	uint64_t rx_malformed;
	uint64_t rx_malformed_by[EVPN_MON_ERR__MAX];
	uint64_t tx_encode_errors;
};

struct evpn_mon_globals {
	struct list *servers; /* struct mon_server, sorted by host_id */
	struct list *hosts;   /* struct mon_host, in configuration order */
	struct evpn_mon_stats stats;
};
extern struct evpn_mon_globals evpn_mon;

/* config (bgp_evpn_mon.c) */
struct mon_server *evpn_mon_server_find(uint32_t host_id);
struct mon_host *evpn_mon_host_find(vni_t vni, const struct ethaddr *mac,
				    const struct ipaddr *ip, uint32_t host_id);
void evpn_mon_server_set(struct bgp *bgp, uint32_t host_id,
			 const struct ethaddr *mac, const struct ipaddr *ip);
void evpn_mon_server_unset(struct bgp *bgp, uint32_t host_id);
void evpn_mon_host_set(struct bgp *bgp, vni_t vni, const struct ethaddr *mac,
		       const struct ipaddr *ip, uint32_t host_id);
void evpn_mon_host_unset(struct bgp *bgp, struct mon_host *h);
const char *evpn_mon_host_state(struct bgp *bgp, const struct mon_host *h);

/* route <-> prefix (bgp_evpn_mon.c) */
void evpn_mon_prefix_from_route(struct prefix_evpn *p,
				const struct evpn_mon_route *r);
void evpn_mon_route_from_path(struct evpn_mon_route *r,
			      const struct prefix_evpn *p,
			      const struct prefix_rd *prd,
			      const struct attr *attr);
const struct prefix_rd *evpn_mon_path_rd(struct bgp_path_info *pi,
					 struct bgpevpn *vpn);
void evpn_mon_route2json(const struct evpn_mon_route *r, bool with_server,
			 json_object *json);

/* feed (bgp_evpn_mon_feed.c) */
void evpn_mon_feed_init(struct thread_master *master, const char *endpoint);
void evpn_mon_feed_fini(void);
/* Re-read everything (VNI events) / one (VNI, prefix) slot. */
void evpn_mon_feed_schedule(void);
void evpn_mon_feed_mark(vni_t vni, const struct prefix_evpn *p);
void evpn_mon_feed_show(struct vty *vty, bool uj);

/* vty (bgp_evpn_mon_vty.c) */
void evpn_mon_vty_init(void);

#endif /* _BGP_EVPN_MON_H */
