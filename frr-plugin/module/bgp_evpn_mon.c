// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * evpn-monitor bgpd module: the monitor-config EVPN route type (254).
 *
 * Registers the route type with bgpd's EVPN extension registry
 * (bgpd/bgp_evpn_ext.h, added by evpn-monitor's core patch), decodes and
 * encodes its NLRI, originates one route per configured monitoring session
 * in the VNI's RD with the VNI's export RTs, and publishes the sessions this
 * leaf holds to the local fpm-consumer (bgp_evpn_mon_feed.c).
 */
#include <zebra.h>

#include "lib/libfrr.h"
#include "lib/memory.h"
#include "lib/module.h"
#include "lib/log.h"
#include "lib/hash.h"
#include "lib/jhash.h"
#include "lib/json.h"
#include "lib/version.h"
#include "lib/thread.h"

#include "bgpd/bgpd.h"
#include "bgpd/bgp_attr.h"
#include "bgpd/bgp_attr_evpn.h"
#include "bgpd/bgp_route.h"
#include "bgpd/bgp_table.h"
#include "bgpd/bgp_evpn.h"
#include "bgpd/bgp_evpn_private.h"
#include "bgpd/bgp_evpn_ext.h"

#include "bgpd/bgp_evpn_mon.h"

DEFINE_MGROUP(EVPN_MON, "evpn-monitor");
DEFINE_MTYPE_STATIC(EVPN_MON, EVPN_MON_SERVER, "EVPN monitor server");
DEFINE_MTYPE_STATIC(EVPN_MON, EVPN_MON_HOST, "EVPN monitor host");
DEFINE_MTYPE_STATIC(EVPN_MON, EVPN_MON_COLLECTOR, "EVPN monitor collector");

_Static_assert(EVPN_MON_ROUTE_TYPE == BGP_EVPN_MONITOR_ROUTE,
	       "route type constant must match lib/prefix.h");
_Static_assert(EVPN_MON_CAPABILITY_CODE == CAPABILITY_CODE_EVPN_EXT,
	       "capability code must match bgpd/bgp_evpn_ext.h");
_Static_assert(sizeof(struct evpn_mon_key) == EVPN_EXT_KEY_BYTES,
	       "key must fill the extension key slot");
_Static_assert(EVPN_MON_PAYLOAD_MAX_LEN <= UINT16_MAX,
	       "payload must fit the extension payload's length");

struct evpn_mon_globals evpn_mon;

/* ------------------------------------------------------------------ */
/* Conversions                                                         */
/* ------------------------------------------------------------------ */

static void ipaddr_to_mon(const struct ipaddr *ip, struct evpn_mon_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (IS_IPADDR_V4(ip)) {
		out->len = 4;
		memcpy(out->addr, &ip->ipaddr_v4, 4);
	} else if (IS_IPADDR_V6(ip)) {
		out->len = 16;
		memcpy(out->addr, &ip->ipaddr_v6, 16);
	}
}

static void mon_ip_to_str(const uint8_t *addr, uint8_t len, char *buf,
			  size_t size)
{
	if (len == 4)
		inet_ntop(AF_INET, addr, buf, size);
	else if (len == 16)
		inet_ntop(AF_INET6, addr, buf, size);
	else
		snprintf(buf, size, "none");
}

void evpn_mon_prefix_from_route(struct prefix_evpn *p,
				const struct evpn_mon_route *r)
{
	struct evpn_mon_key key;

	/* The whole prefix is the table key: zero the padding. */
	memset(p, 0, sizeof(*p));
	p->family = AF_EVPN;
	p->prefixlen = EVPN_ROUTE_PREFIXLEN;
	p->prefix.route_type = BGP_EVPN_MONITOR_ROUTE;
	p->prefix.ext_addr.eth_tag = r->eth_tag;
	evpn_mon_route_key(r, &key);
	memcpy(p->prefix.ext_addr.val, &key, sizeof(key));
}

bool evpn_mon_route_from_path(struct evpn_mon_route *r,
			      const struct prefix_evpn *p,
			      const struct prefix_rd *prd,
			      const struct attr *attr)
{
	const struct bgp_evpn_ext_payload *pl =
		attr ? attr->evpn_overlay.ext : NULL;
	struct evpn_mon_key key;

	memcpy(&key, p->prefix.ext_addr.val, sizeof(key));
	if (attr && !pl) {
		/* a path always has one: never encode a route without it */
		evpn_mon_route_from_key(r, prd ? prd->val : NULL,
					p->prefix.ext_addr.eth_tag, &key, NULL,
					0);
		return false;
	}
	return evpn_mon_route_from_key(r, prd ? prd->val : NULL,
				       p->prefix.ext_addr.eth_tag, &key,
				       pl ? pl->data : NULL, pl ? pl->len : 0);
}

/* RD of a path in a VNI table: the VNI's RD for a local route, the RD of the
 * global-table parent for an imported one. */
const struct prefix_rd *evpn_mon_path_rd(struct bgp_path_info *pi,
					 struct bgpevpn *vpn)
{
	struct bgp_path_info *parent = get_route_parent_evpn(pi);

	if (parent && parent->net && parent->net->pdest)
		return (const struct prefix_rd *)bgp_dest_get_prefix(
			parent->net->pdest);
	return vpn ? &vpn->prd : NULL;
}

static void mon_prefix2json(json_object *json, const char *key,
			    uint8_t family, const struct evpn_mon_prefix *pfx)
{
	char buf[INET6_ADDRSTRLEN];

	if (!family)
		return;
	inet_ntop(family == 6 ? AF_INET6 : AF_INET, pfx->addr, buf,
		  sizeof(buf));
	json_object_string_addf(json, key, "%s/%u", buf, pfx->len);
}

json_object *evpn_mon_options2json(const struct evpn_mon_options *o)
{
	static const char *const dirs[] = {"both", "rx", "tx"};
	static const char *const bases[] = {"l3", "l4", "l5"};
	json_object *json = json_object_new_object();
	json_object *filters = json_object_new_array();
	uint8_t wire[EVPN_MON_OPTIONS_MAX_LEN];
	char hex[2 * sizeof(wire) + 1];
	size_t len, i;

	json_object_string_add(json, "direction",
			       o->direction < array_size(dirs)
				       ? dirs[o->direction]
				       : "unknown");
	json_object_int_add(json, "sample", o->sample > 1 ? o->sample : 1);
	json_object_int_add(json, "truncate", o->truncate);
	if (o->police_unit) {
		json_object *p = json_object_new_object();

		json_object_string_add(p, "unit",
				       o->police_unit == EVPN_MON_POLICE_PPS
					       ? "pps"
					       : "bps");
		json_object_int_add(p, "rate", (int64_t)o->police_rate);
		json_object_int_add(p, "burst", o->police_burst);
		json_object_object_add(json, "police", p);
	}
	for (i = 0; i < o->nfilters && i < EVPN_MON_MAX_FILTERS; i++) {
		const struct evpn_mon_filter *f = &o->filters[i];
		json_object *jf = json_object_new_object();
		json_object *udfs = json_object_new_array();

		if (f->family)
			json_object_int_add(jf, "family", f->family);
		if (f->proto)
			json_object_int_add(jf, "protocol", f->proto);
		if (f->src.len)
			mon_prefix2json(jf, "src", f->family, &f->src);
		if (f->dst.len)
			mon_prefix2json(jf, "dst", f->family, &f->dst);
		if (evpn_mon_filter_has_sport(f))
			json_object_string_addf(jf, "sport", "%u-%u",
						f->sport_lo, f->sport_hi);
		if (evpn_mon_filter_has_dport(f))
			json_object_string_addf(jf, "dport", "%u-%u",
						f->dport_lo, f->dport_hi);
		for (size_t u = 0; u < f->nudf && u < EVPN_MON_MAX_UDFS; u++) {
			const struct evpn_mon_udf *d = &f->udf[u];
			json_object *ju = json_object_new_object();

			json_object_string_add(ju, "base",
					       d->base < array_size(bases)
						       ? bases[d->base]
						       : "unknown");
			json_object_int_add(ju, "offset", d->offset);
			json_object_string_addf(ju, "value", "0x%04x",
						d->value);
			json_object_string_addf(ju, "mask", "0x%04x", d->mask);
			json_object_array_add(udfs, ju);
		}
		json_object_object_add(jf, "udfs", udfs);
		json_object_array_add(filters, jf);
	}
	json_object_object_add(json, "filters", filters);
	if (o->erspan.version) {
		json_object *je = json_object_new_object();
		uint16_t gre = o->erspan.gre_proto;

		if (!gre)
			gre = o->erspan.version == 2 ? EVPN_MON_GRE_PROTO_ERSPAN2
						     : EVPN_MON_GRE_PROTO_ERSPAN3;
		json_object_int_add(je, "version", o->erspan.version);
		json_object_int_add(je, "spanId", o->erspan.span_id);
		json_object_int_add(je, "dscp", o->erspan.dscp);
		json_object_int_add(je, "ttl", o->erspan.ttl);
		json_object_string_addf(je, "greProtocol", "0x%04x", gre);
		json_object_object_add(json, "erspan", je);
	}
	/* exactly what the route carries (and the feed's options field) */
	len = evpn_mon_options_encode(o, wire, sizeof(wire));
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", wire[i]);
	hex[2 * len] = '\0';
	json_object_string_add(json, "wire", hex);
	return json;
}

void evpn_mon_route2json(const struct evpn_mon_route *r, bool with_server,
			 json_object *json)
{
	char buf[INET6_ADDRSTRLEN];
	char sid[EVPN_MON_SESSION_ID_MAX];
	struct ethaddr mac;

	json_object_int_add(json, "ethTag", r->eth_tag);
	json_object_int_add(json, "vni", r->vni);
	if (r->dest == EVPN_MON_DEST_COLLECTOR) {
		json_object_string_add(json, "destination", "collector");
		json_object_int_add(json, "collectorId", r->host_id);
	} else {
		json_object_string_add(json, "destination", "server");
		json_object_int_add(json, "hostId", r->host_id);
	}
	if (r->host_mac_len) {
		memcpy(mac.octet, r->host_mac, 6);
		json_object_string_addf(json, "hostMac", "%pEA", &mac);
	}
	if (r->host_ip.len) {
		mon_ip_to_str(r->host_ip.addr, r->host_ip.len, buf,
			      sizeof(buf));
		json_object_string_add(json, "hostIp", buf);
	}
	if (with_server && r->dest == EVPN_MON_DEST_COLLECTOR) {
		/* no MAC: the copies are routed to the collector's IP */
		mon_ip_to_str(r->server_ip.addr, r->server_ip.len, buf,
			      sizeof(buf));
		json_object_string_add(json, "collectorIp", buf);
	} else if (with_server) {
		memcpy(mac.octet, r->server_mac, 6);
		json_object_string_addf(json, "serverMac", "%pEA", &mac);
		if (r->server_ip.len) {
			mon_ip_to_str(r->server_ip.addr, r->server_ip.len, buf,
				      sizeof(buf));
			json_object_string_add(json, "serverIp", buf);
		}
	}
	mon_ip_to_str(r->orig_ip, 4, buf, sizeof(buf));
	json_object_string_add(json, "originatorIp", buf);
	evpn_mon_session_id(r, sid, sizeof(sid));
	json_object_string_add(json, "sessionId", sid);
	/* the options ride with the server, in the path attribute */
	if (with_server && r->opts.present) {
		if (r->opts.name[0])
			json_object_string_add(json, "profile", r->opts.name);
		json_object_object_add(json, "options",
				       evpn_mon_options2json(&r->opts));
	}
}

/* ------------------------------------------------------------------ */
/* The monitor routes of one table                                     */
/* ------------------------------------------------------------------ */

/* bgpd's tables are prefix tries walked in prefix order, and an EVPN
 * prefix begins with its route type: the monitor routes (the highest type)
 * of a table are one range at its end. It is found by one descent and
 * walked without visiting the table's type-2, 3 and 5 routes, whatever
 * their number. */
struct bgp_dest *evpn_mon_table_first(struct bgp_table *table)
{
	struct prefix_evpn p;
	struct bgp_dest *dest;
	struct route_node *rn;

	if (!table)
		return NULL;
	memset(&p, 0, sizeof(p));
	p.family = AF_EVPN;
	p.prefixlen = EVPN_ROUTE_PREFIXLEN;
	p.prefix.route_type = BGP_EVPN_MONITOR_ROUTE;
	/* the lowest possible key; a real route never has it, but if one
	 * did it would be the range's first node */
	dest = bgp_node_lookup(table, (struct prefix *)&p);
	if (!dest) {
		rn = route_table_get_next(table->route_table, &p);
		dest = rn ? bgp_dest_from_rnode(rn) : NULL;
	}
	return evpn_mon_table_skip(dest);
}

struct bgp_dest *evpn_mon_table_skip(struct bgp_dest *dest)
{
	const struct prefix_evpn *p;

	/* nodes without paths (the trie's internal nodes) are passed over */
	for (; dest; dest = bgp_route_next(dest)) {
		if (!bgp_dest_has_bgp_path_info_data(dest))
			continue;
		p = (const struct prefix_evpn *)bgp_dest_get_prefix(dest);
		if (p->prefix.route_type == BGP_EVPN_MONITOR_ROUTE)
			return dest;
		/* past the range (a type above ours): stop */
		bgp_dest_unlock_node(dest);
		return NULL;
	}
	return NULL;
}

struct bgp_dest *evpn_mon_table_next(struct bgp_dest *dest)
{
	return evpn_mon_table_skip(bgp_route_next(dest));
}

/* ------------------------------------------------------------------ */
/* Extension ops                                                       */
/* ------------------------------------------------------------------ */

/* Rate-limited log of malformed NLRI: at most 10 lines a second. */
static void mon_log_malformed(struct peer *peer, enum evpn_mon_error err,
			      int psize, bool withdrawn)
{
	static time_t window;
	static unsigned int in_window, suppressed;
	time_t now = monotime(NULL);

	if (now != window) {
		if (suppressed)
			zlog_warn("evpn-monitor: %u more malformed monitor NLRI not logged",
				  suppressed);
		window = now;
		in_window = suppressed = 0;
	}
	if (++in_window > 10) {
		suppressed++;
		return;
	}
	if (psize < 0)
		zlog_warn("evpn-monitor: %s: malformed EVPN monitor NLRI (runs past the end of its attribute): %s; ignored",
			  peer->host, evpn_mon_strerror(err));
	else
		zlog_warn("evpn-monitor: %s: malformed EVPN monitor NLRI (%d octets): %s; %s",
			  peer->host, psize, evpn_mon_strerror(err),
			  withdrawn ? "treated as withdraw (RFC 7606)" : "ignored");
}

static void mon_parse(struct peer *peer, afi_t afi, safi_t safi,
		      struct attr *attr, const uint8_t *pnt, int psize,
		      uint32_t addpath_id)
{
	struct evpn_mon_route r;
	uint8_t pl[EVPN_MON_PAYLOAD_MAX_LEN];
	size_t pl_len = 0;
	struct bgp_route_evpn overlay, saved;
	struct prefix_evpn p;
	struct prefix_rd prd;
	mpls_label_t label;
	bool withdraw = (attr == NULL);
	enum evpn_mon_error err;

	/* psize < 0: the NLRI ran past its attribute; the octets that are
	 * there are not a route, even when they would decode as one. */
	err = psize < 0 ? EVPN_MON_ERR_TRUNCATED
			: evpn_mon_decode(pnt, (size_t)psize, withdraw, &r);
	if (err == EVPN_MON_OK && !withdraw) {
		/* a decoded route always fits; be safe with the codec's
		 * limits anyway */
		pl_len = evpn_mon_route_payload(&r, pl, sizeof(pl));
		if (!pl_len)
			err = EVPN_MON_ERR_LONG;
	}
	if (err != EVPN_MON_OK) {
		evpn_mon.stats.rx_malformed++;
		if ((unsigned int)err < EVPN_MON_ERR__MAX)
			evpn_mon.stats.rx_malformed_by[err]++;
		mon_log_malformed(peer, err, psize,
				  evpn_mon_error_key_valid(err));
		if (!evpn_mon_error_key_valid(err))
			return;
		withdraw = true; /* RFC 7606 treat-as-withdraw */
	}

	evpn_mon_prefix_from_route(&p, &r);
	memset(&prd, 0, sizeof(prd));
	prd.family = AF_UNSPEC;
	prd.prefixlen = 64;
	memcpy(prd.val, r.rd, 8);

	if (withdraw) {
		evpn_mon.stats.rx_withdraws++;
		bgp_withdraw(peer, (struct prefix *)&p, addpath_id, attr, afi,
			     safi, ZEBRA_ROUTE_BGP, BGP_ROUTE_NORMAL, &prd,
			     NULL, 0, NULL);
		return;
	}

	evpn_mon.stats.rx_routes++;
	memset(&overlay, 0, sizeof(overlay));
	/* Our reference for the duration of bgp_update(): every attribute
	 * interned from attr takes its own. */
	overlay.ext = bgp_evpn_ext_payload_intern(pl, pl_len);
	vni2label(r.vni, &label);
	/* bgp_update() copies `evpn` into the path's attribute only on the
	 * soft-reconfiguration path; the attribute of a received UPDATE is
	 * not interned yet, so carry the payload in it for this NLRI only
	 * (the UPDATE's other NLRI, and bgp_attr_unintern_sub() of attr at
	 * the end of the UPDATE, must not see it). */
	saved = attr->evpn_overlay;
	attr->evpn_overlay = overlay;
	bgp_update(peer, (struct prefix *)&p, addpath_id, attr, afi, safi,
		   ZEBRA_ROUTE_BGP, BGP_ROUTE_NORMAL, &prd, &label, 1, 0,
		   &overlay);
	attr->evpn_overlay = saved;
	bgp_evpn_ext_payload_unintern(&overlay.ext);
}

static int mon_encode(const struct prefix_evpn *p, const struct prefix_rd *prd,
		      const struct attr *attr, uint8_t *buf, size_t size)
{
	struct evpn_mon_route r;
	size_t len = 0;

	/* attr NULL: a withdrawal, the key is enough */
	if (evpn_mon_route_from_path(&r, p, prd, attr))
		len = evpn_mon_encode(&r, buf, size);
	if (!len)
		evpn_mon.stats.tx_encode_errors++;
	return (int)len;
}

static const char *mon_to_str(const struct prefix_evpn *p, char *buf, int size)
{
	struct evpn_mon_key key;
	char ip[INET6_ADDRSTRLEN];
	char id[16];
	struct ethaddr mac;

	memcpy(&key, p->prefix.ext_addr.val, sizeof(key));
	memcpy(mac.octet, key.host_mac, 6);
	mon_ip_to_str(key.host_ip, key.host_ip_len, ip, sizeof(ip));
	/* Compact, like FRR's other EVPN strings, within PREFIX_STRLEN:
	 * [254]:[HOST ID]:[host MAC]:[host IP]; a collector's ID is written
	 * "c<ID>" as in the session id. */
	if ((key.host_id >> 24) == EVPN_MON_DEST_COLLECTOR)
		snprintf(id, sizeof(id), "c%u", key.host_id & 0xffff);
	else
		snprintf(id, sizeof(id), "%u", key.host_id);
	if (key.host_mac_len)
		snprintfrr(buf, size, "[254]:[%s]:[%pEA]:[%s]", id, &mac,
			   key.host_ip_len ? ip : "");
	else
		snprintfrr(buf, size, "[254]:[%s]:[]:[%s]", id, ip);
	return buf;
}

static void mon_to_json(const struct prefix_evpn *p, json_object *json)
{
	struct evpn_mon_route r;

	evpn_mon_route_from_path(&r, p, NULL, NULL);
	json_object_string_add(json, "routeTypeName", "monitor");
	/* the server fields live in the path attribute, not in the prefix */
	evpn_mon_route2json(&r, false, json);
}

static void mon_vni_route(struct bgp *bgp, struct bgpevpn *vpn,
			  const struct prefix_evpn *p, struct bgp_path_info *pi)
{
	evpn_mon_feed_mark(vpn->vni, p);
}

/* ------------------------------------------------------------------ */
/* Origination                                                         */
/* ------------------------------------------------------------------ */

static bool mon_host_desired(struct bgp *bgp, struct bgpevpn *vpn,
			     const struct mon_host *h)
{
	bool dest_ok = h->dest == EVPN_MON_DEST_COLLECTOR
			       ? !!evpn_mon_collector_find(h->host_id)
			       : !!evpn_mon_server_find(h->host_id);

	return bgp && vpn && bgp->advertise_all_vni && is_vni_live(vpn)
	       && vpn->originator_ip.s_addr != INADDR_ANY && dest_ok
	       && (!h->profile[0] || evpn_mon_profile_find(h->profile));
}

static void mon_host_route(struct bgpevpn *vpn, const struct mon_host *h,
			   struct evpn_mon_route *r)
{
	struct mon_server *s = NULL;
	struct mon_collector *c = NULL;

	if (h->dest == EVPN_MON_DEST_COLLECTOR)
		c = evpn_mon_collector_find(h->host_id);
	else
		s = evpn_mon_server_find(h->host_id);
	memset(r, 0, sizeof(*r));
	memcpy(r->rd, vpn->prd.val, 8);
	r->eth_tag = 0;
	r->vni = vpn->vni;
	r->dest = h->dest;
	r->host_id = h->host_id;
	if (h->has_mac) {
		r->host_mac_len = 6;
		memcpy(r->host_mac, h->mac.octet, 6);
	}
	ipaddr_to_mon(&h->ip, &r->host_ip);
	if (s) {
		memcpy(r->server_mac, s->mac.octet, 6);
		ipaddr_to_mon(&s->ip, &r->server_ip);
	}
	memcpy(r->orig_ip, &vpn->originator_ip, 4);
	if (h->profile[0])
		evpn_mon_profile_options(h->profile, &r->opts);
	if (c) {
		/* The server MAC stays zero; the copies are routed to the
		 * collector's IP, encapsulated as its ERSPAN TLV says. Without
		 * a profile the area holds the TLV alone: decoded, it reads
		 * as an empty profile, which selects every packet too. */
		r->server_ip.len = 4;
		memcpy(r->server_ip.addr, &c->ip, 4);
		r->opts.present = 1;
		r->opts.erspan = c->erspan;
	}
}

static void mon_host_withdraw(struct bgp *bgp, struct bgpevpn *vpn,
			      struct mon_host *h)
{
	if (!h->originated)
		return;
	if (bgp && vpn) {
		bgp_evpn_ext_route_delete(bgp, vpn, &h->adv_p, &h->adv_prd);
		evpn_mon_feed_mark(vpn->vni, &h->adv_p);
	}
	h->originated = false;
}

/* Level-triggered: make what this leaf originates for h match the config
 * and the VNI's current state (RD, RTs, originator IP, liveness). */
static void mon_host_sync(struct bgp *bgp, struct mon_host *h)
{
	struct bgpevpn *vpn = bgp ? bgp_evpn_lookup_vni(bgp, h->vni) : NULL;
	struct evpn_mon_route r;
	uint8_t pl[EVPN_MON_PAYLOAD_MAX_LEN];
	size_t pl_len;
	struct bgp_route_evpn overlay;
	struct prefix_evpn p;
	int ret;

	if (!mon_host_desired(bgp, vpn, h)) {
		mon_host_withdraw(bgp, vpn, h);
		return;
	}

	mon_host_route(vpn, h, &r);
	evpn_mon_prefix_from_route(&p, &r);
	if (h->originated
	    && (memcmp(&p, &h->adv_p, sizeof(p))
		|| memcmp(&vpn->prd, &h->adv_prd, sizeof(vpn->prd))))
		mon_host_withdraw(bgp, vpn, h);

	/* Server and options; a change under the same key replaces the
	 * route (the attribute compares the interned payload). */
	pl_len = evpn_mon_route_payload(&r, pl, sizeof(pl));
	if (!pl_len) {
		/* the profile was validated to fit: not expected */
		evpn_mon.stats.tx_encode_errors++;
		mon_host_withdraw(bgp, vpn, h);
		return;
	}
	memset(&overlay, 0, sizeof(overlay));
	overlay.ext = bgp_evpn_ext_payload_intern(pl, pl_len);
	ret = bgp_evpn_ext_route_update(bgp, vpn, &p, &overlay);
	bgp_evpn_ext_payload_unintern(&overlay.ext);
	if (ret == 0) {
		h->originated = true;
		h->adv_p = p;
		h->adv_prd = vpn->prd;
		evpn_mon_feed_mark(vpn->vni, &p);
	}
}

/* Configuration changes are applied in batches from the event loop: a
 * command returns at once (its session shows "pending") and thousands of
 * `monitor host` lines cost one tight origination loop instead of one
 * origination per vty round trip. The batch runs MON_PENDING_DELAY_MS after
 * the first pending change (not re-armed by later ones): an event would run
 * after every single vty command of a `vtysh -f` and batch nothing. VNI
 * events stay synchronous. */
#define MON_PENDING_BATCH 2000
#define MON_PENDING_DELAY_MS 10

static struct list *mon_pending; /* struct mon_host, FIFO */
static struct thread *t_pending;
static struct thread_master *mon_master;

static void mon_pending_run(struct thread *t)
{
	struct bgp *bgp = bgp_get_evpn();
	struct mon_host *h;
	unsigned int n = 0;

	while (n++ < MON_PENDING_BATCH && (h = listnode_head(mon_pending))) {
		list_delete_node(mon_pending, h->pending);
		h->pending = NULL;
		mon_host_sync(bgp, h);
	}
	if (listcount(mon_pending))
		thread_add_event(mon_master, mon_pending_run, NULL, 0,
				 &t_pending);
}

static void mon_host_defer(struct bgp *bgp, struct mon_host *h)
{
	if (!mon_master) { /* before the event loop exists */
		mon_host_sync(bgp, h);
		return;
	}
	if (!h->pending)
		h->pending = listnode_add(mon_pending, h);
	thread_add_timer_msec(mon_master, mon_pending_run, NULL,
			      MON_PENDING_DELAY_MS, &t_pending);
}

static void mon_sync_vni(struct bgp *bgp, vni_t vni)
{
	struct listnode *node;
	struct mon_host *h;

	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h))
		if (h->vni == vni)
			mon_host_sync(bgp, h);
}

static void mon_vni_event(struct bgp *bgp, struct bgpevpn *vpn,
			  enum bgp_evpn_ext_vni_event event)
{
	struct listnode *node;
	struct mon_host *h;

	switch (event) {
	case BGP_EVPN_EXT_VNI_DOWN:
		/* Synchronous: the VNI's tables may be freed right after. */
		for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h))
			if (h->vni == vpn->vni)
				mon_host_withdraw(bgp, vpn, h);
		break;
	case BGP_EVPN_EXT_VNI_UP:
		mon_sync_vni(bgp, vpn->vni);
		break;
	}
	evpn_mon_feed_schedule();
	evpn_mon_vty_vni_event();
}

const char *evpn_mon_host_state(struct bgp *bgp, const struct mon_host *h)
{
	struct bgpevpn *vpn;

	if (h->pending)
		return "pending";
	if (h->originated)
		return "advertised";
	if (h->dest == EVPN_MON_DEST_COLLECTOR
	    && !evpn_mon_collector_find(h->host_id))
		return "collector-missing";
	if (h->dest != EVPN_MON_DEST_COLLECTOR
	    && !evpn_mon_server_find(h->host_id))
		return "server-undefined";
	if (h->profile[0] && !evpn_mon_profile_find(h->profile))
		return "profile-missing";
	if (!bgp || !bgp->advertise_all_vni)
		return "advertise-all-vni-off";
	/* looked up last: the show asks this of every configured session */
	vpn = bgp_evpn_lookup_vni(bgp, h->vni);
	if (!vpn || !is_vni_live(vpn))
		return "vni-not-live";
	return "pending";
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static int server_cmp(void *a, void *b)
{
	const struct mon_server *x = a, *y = b;

	return (x->host_id > y->host_id) - (x->host_id < y->host_id);
}

struct mon_server *evpn_mon_server_find(uint32_t host_id)
{
	struct listnode *node;
	struct mon_server *s;

	for (ALL_LIST_ELEMENTS_RO(evpn_mon.servers, node, s))
		if (s->host_id == host_id)
			return s;
	return NULL;
}

static bool host_match(const struct mon_host *h, vni_t vni,
		       const struct ethaddr *mac, const struct ipaddr *ip,
		       uint8_t dest, uint32_t host_id)
{
	if (h->vni != vni || h->dest != dest || h->host_id != host_id)
		return false;
	if (h->has_mac != (mac != NULL))
		return false;
	if (mac && memcmp(&h->mac, mac, sizeof(*mac)))
		return false;
	if (ipaddr_cmp(&h->ip, ip))
		return false;
	return true;
}

/* Configured hosts are also hashed by identity: 10,000 sessions configured
 * one line at a time must not cost 10,000 list walks. */
static struct hash *host_hash;

static unsigned int host_hash_key(const void *a)
{
	const struct mon_host *h = a;
	uint32_t k = jhash_3words(h->vni, h->host_id, h->has_mac, h->dest);

	if (h->has_mac)
		k = jhash(h->mac.octet, ETH_ALEN, k);
	return jhash(&h->ip, sizeof(h->ip), k);
}

static bool host_hash_eq(const void *a, const void *b)
{
	const struct mon_host *x = b;

	return host_match(a, x->vni, x->has_mac ? &x->mac : NULL, &x->ip,
			  x->dest, x->host_id);
}

struct mon_host *evpn_mon_host_find(vni_t vni, const struct ethaddr *mac,
				    const struct ipaddr *ip, uint8_t dest,
				    uint32_t host_id)
{
	struct mon_host key = {.vni = vni, .host_id = host_id, .dest = dest,
			       .has_mac = (mac != NULL), .ip = *ip};

	if (mac)
		key.mac = *mac;
	return hash_lookup(host_hash, &key);
}

static void sync_hosts_of(struct bgp *bgp, uint8_t dest, uint32_t host_id)
{
	struct listnode *node;
	struct mon_host *h;

	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h))
		if (h->dest == dest && h->host_id == host_id)
			mon_host_defer(bgp, h);
}

void evpn_mon_server_set(struct bgp *bgp, uint32_t host_id,
			 const struct ethaddr *mac, const struct ipaddr *ip)
{
	struct mon_server *s = evpn_mon_server_find(host_id);

	if (!s) {
		s = XCALLOC(MTYPE_EVPN_MON_SERVER, sizeof(*s));
		s->host_id = host_id;
		listnode_add_sort(evpn_mon.servers, s);
	}
	s->mac = *mac;
	s->ip = *ip;
	sync_hosts_of(bgp, EVPN_MON_DEST_SERVER, host_id);
}

void evpn_mon_server_unset(struct bgp *bgp, uint32_t host_id)
{
	struct mon_server *s = evpn_mon_server_find(host_id);

	if (!s)
		return;
	listnode_delete(evpn_mon.servers, s);
	XFREE(MTYPE_EVPN_MON_SERVER, s);
	sync_hosts_of(bgp, EVPN_MON_DEST_SERVER, host_id);
}

/* ERSPAN collectors: the defaults are documented (docs/operator-guide.md,
 * "Collectors (ERSPAN)"); the span id default keeps the collector ID's low
 * 10 bits, so collectors 1..1023 get their own ID. */
void evpn_mon_collector_defaults(uint32_t id, uint8_t version,
				 struct evpn_mon_erspan *e)
{
	memset(e, 0, sizeof(*e));
	e->version = version;
	e->span_id = id % (EVPN_MON_ERSPAN_SPAN_ID_MAX + 1);
	e->dscp = 0;
	e->ttl = EVPN_MON_ERSPAN_TTL_DEFAULT;
	e->gre_proto = 0;
}

static int collector_cmp(void *a, void *b)
{
	const struct mon_collector *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

struct mon_collector *evpn_mon_collector_find(uint32_t id)
{
	struct listnode *node;
	struct mon_collector *c;

	for (ALL_LIST_ELEMENTS_RO(evpn_mon.collectors, node, c))
		if (c->id == id)
			return c;
	return NULL;
}

void evpn_mon_collector_set(struct bgp *bgp, uint32_t id,
			    const struct in_addr *ip,
			    const struct evpn_mon_erspan *erspan)
{
	struct mon_collector *c = evpn_mon_collector_find(id);

	if (c && c->ip.s_addr == ip->s_addr
	    && !memcmp(&c->erspan, erspan, sizeof(*erspan)))
		return;
	if (!c) {
		c = XCALLOC(MTYPE_EVPN_MON_COLLECTOR, sizeof(*c));
		c->id = id;
		listnode_add_sort(evpn_mon.collectors, c);
	}
	c->ip = *ip;
	c->erspan = *erspan;
	/* Same route keys, new payload: an implicit replace at every peer. */
	sync_hosts_of(bgp, EVPN_MON_DEST_COLLECTOR, id);
}

void evpn_mon_collector_unset(struct bgp *bgp, uint32_t id)
{
	struct mon_collector *c = evpn_mon_collector_find(id);

	if (!c)
		return;
	listnode_delete(evpn_mon.collectors, c);
	XFREE(MTYPE_EVPN_MON_COLLECTOR, c);
	sync_hosts_of(bgp, EVPN_MON_DEST_COLLECTOR, id);
}

unsigned int evpn_mon_collector_users(uint32_t id)
{
	struct listnode *node;
	struct mon_host *h;
	unsigned int n = 0;

	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h))
		if (h->dest == EVPN_MON_DEST_COLLECTOR && h->host_id == id)
			n++;
	return n;
}

void evpn_mon_host_set(struct bgp *bgp, vni_t vni, const struct ethaddr *mac,
		       const struct ipaddr *ip, uint8_t dest, uint32_t host_id,
		       const char *profile)
{
	struct mon_host *h = evpn_mon_host_find(vni, mac, ip, dest, host_id);

	if (!h) {
		h = XCALLOC(MTYPE_EVPN_MON_HOST, sizeof(*h));
		h->vni = vni;
		h->has_mac = (mac != NULL);
		if (mac)
			h->mac = *mac;
		h->ip = *ip;
		h->dest = dest;
		h->host_id = host_id;
		h->node = listnode_add(evpn_mon.hosts, h);
		(void)hash_get(host_hash, h, hash_alloc_intern);
	}
	/* The profile is not part of the session's identity: naming another
	 * one (or none) re-originates the same route with other options. */
	strlcpy(h->profile, profile ? profile : "", sizeof(h->profile));
	mon_host_defer(bgp, h);
}

void evpn_mon_host_resync(struct bgp *bgp, struct mon_host *h)
{
	mon_host_defer(bgp, h);
}

static struct evpn_mon_host_walk *host_walks;

void evpn_mon_host_walk_start(struct evpn_mon_host_walk *walk)
{
	walk->last = NULL;
	walk->chain = host_walks;
	host_walks = walk;
}

/* The host after the last one visited, looked up only now: one added while
 * the walk paused after the end is still visited. */
struct mon_host *evpn_mon_host_walk_next(struct evpn_mon_host_walk *walk)
{
	struct listnode *n = walk->last ? listnextnode(walk->last)
					: listhead(evpn_mon.hosts);

	if (!n)
		return NULL;
	walk->last = n;
	return listgetdata(n);
}

void evpn_mon_host_walk_stop(struct evpn_mon_host_walk *walk)
{
	struct evpn_mon_host_walk **pp;

	for (pp = &host_walks; *pp; pp = &(*pp)->chain)
		if (*pp == walk) {
			*pp = walk->chain;
			break;
		}
	walk->last = NULL;
}

void evpn_mon_host_unset(struct bgp *bgp, struct mon_host *h)
{
	struct evpn_mon_host_walk *walk;

	/* a walk that stands on h goes on from the host before it */
	for (walk = host_walks; walk; walk = walk->chain)
		if (walk->last == h->node)
			walk->last = h->node->prev;
	if (h->pending) {
		list_delete_node(mon_pending, h->pending);
		h->pending = NULL;
	}
	mon_host_withdraw(bgp,
			  bgp ? bgp_evpn_lookup_vni(bgp, h->vni) : NULL, h);
	hash_release(host_hash, h);
	list_delete_node(evpn_mon.hosts, h->node);
	XFREE(MTYPE_EVPN_MON_HOST, h);
}

/* ------------------------------------------------------------------ */
/* Module                                                              */
/* ------------------------------------------------------------------ */

static const struct bgp_evpn_ext_ops mon_ops = {
	.route_type = EVPN_MON_ROUTE_TYPE,
	.name = "monitor",
	.parse = mon_parse,
	.encode = mon_encode,
	.to_json = mon_to_json,
	.to_str = mon_to_str,
	.vni_route = mon_vni_route,
	.vni_event = mon_vni_event,
};

static int mon_bgp_inst_delete(struct bgp *bgp)
{
	struct listnode *node;
	struct mon_host *h;

	evpn_mon_vty_bgp_delete(bgp);
	if (bgp != bgp_get_evpn())
		return 0;
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h))
		h->originated = false; /* tables go away with the instance */
	evpn_mon_feed_schedule();
	return 0;
}

static char feed_endpoint[sizeof(frr_zclientpath) + 64];

/* Runs from the event loop, i.e. after bgpd has daemonized (-d): ZeroMQ's
 * I/O threads would not survive the fork if the context were made earlier. */
static void mon_feed_start(struct thread *t)
{
	evpn_mon_feed_init(THREAD_ARG(t), feed_endpoint);
}

static int mon_late_init(struct thread_master *master)
{
	const char *endpoint = THIS_MODULE->load_args;
	char dir[sizeof(frr_zclientpath)];
	char def[sizeof(dir) + 64];
	char *slash;

	if (!endpoint || !*endpoint) {
		/* Next to zebra's API socket: per instance, also when
		 * several FRRs run side by side (one per network namespace
		 * with -z/--vty_socket), and where the fpm-consumer looks. */
		strlcpy(dir, frr_zclientpath[0] ? frr_zclientpath : "",
			sizeof(dir));
		slash = strrchr(dir, '/');
		if (slash && slash != dir)
			*slash = '\0';
		else
			strlcpy(dir, frr_vtydir, sizeof(dir));
		snprintf(def, sizeof(def), "ipc://%s/evpnmon-feed.sock", dir);
		endpoint = def;
	}
	strlcpy(feed_endpoint, endpoint, sizeof(feed_endpoint));
	mon_master = master;
	evpn_mon_vty_init();
	evpn_mon_import_vty_init();
	thread_add_event(master, mon_feed_start, master, 0, NULL);
	return 0;
}

/* First thing at exit, before bgpd deletes its instances and frees its
 * globals: the shows in progress end (vtysh sees the connection close). */
static int mon_early_fini(void)
{
	evpn_mon_vty_fini();
	return 0;
}

static int mon_fini(void)
{
	THREAD_OFF(t_pending);
	evpn_mon_feed_fini();
	evpn_mon_import_fini();
	evpn_mon_profile_fini();
	bgp_evpn_ext_unregister(EVPN_MON_ROUTE_TYPE);
	return 0;
}

static int mon_module_init(void)
{
	evpn_mon.servers = list_new();
	evpn_mon.servers->cmp = server_cmp;
	evpn_mon.hosts = list_new();
	evpn_mon.collectors = list_new();
	evpn_mon.collectors->cmp = collector_cmp;
	evpn_mon_profile_init();
	evpn_mon_import_init();
	mon_pending = list_new();
	host_hash = hash_create_size(1024, host_hash_key, host_hash_eq,
				     "evpn-monitor hosts");

	if (bgp_evpn_ext_register(&mon_ops) != 0) {
		zlog_err("evpn-monitor: EVPN route type %u already registered",
			 EVPN_MON_ROUTE_TYPE);
		return -1;
	}
	hook_register(frr_late_init, mon_late_init);
	hook_register(frr_early_fini, mon_early_fini);
	hook_register(frr_fini, mon_fini);
	hook_register(bgp_inst_delete, mon_bgp_inst_delete);
	return 0;
}

FRR_MODULE_SETUP(.name = "bgpd_evpn_mon", .version = FRR_VERSION,
		 .description = "evpn-monitor monitor-config route (EVPN type 254)",
		 .init = mon_module_init);
