// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * evpn-monitor bgpd module: configuration and show commands.
 *
 *  router bgp ASN
 *   address-family l2vpn evpn
 *    monitor server (1-65535) mac X:X:X:X:X:X [ip A.B.C.D|X:X::X:X]
 *    monitor host vni (1-16777215) [mac X:X:X:X:X:X] [ip A.B.C.D|X:X::X:X] server (1-65535)
 *
 *  show bgp l2vpn evpn monitor [json]
 */
#include <zebra.h>

#include "lib/command.h"
#include "lib/json.h"
#include "lib/prefix.h"
#include "lib/vty.h"
#include "lib/hash.h"

#include "bgpd/bgpd.h"
#include "bgpd/bgp_vty.h"
#include "bgpd/bgp_table.h"
#include "bgpd/bgp_route.h"
#include "bgpd/bgp_rd.h"
#include "bgpd/bgp_attr.h"
#include "bgpd/bgp_evpn.h"
#include "bgpd/bgp_evpn_private.h"
#include "bgpd/bgp_evpn_ext.h"
#include "bgpd/bgp_evpn_vty.h"

#include "bgpd/bgp_evpn_mon.h"

#ifndef VTYSH_EXTRACT_PL
#include "bgpd/bgp_evpn_mon_vty_clippy.c"
#endif

#define MONITOR_STR "evpn-monitor: monitoring sessions\n"
#define SERVER_STR "Monitoring server\n"
#define HOSTID_STR "HOST ID (carried as the VXLAN-GBP Group Policy ID)\n"

static struct bgp *mon_bgp_from_vty(struct vty *vty)
{
	struct bgp *bgp = VTY_GET_CONTEXT(bgp);

	if (!bgp) {
		vty_out(vty, "%% No BGP instance\n");
		return NULL;
	}
	if (bgp->inst_type != BGP_INSTANCE_TYPE_DEFAULT) {
		vty_out(vty,
			"%% Monitoring sessions are configured in the default BGP instance\n");
		return NULL;
	}
	return bgp;
}

/* Parse an optional "ip" argument into *ip (IPADDR_NONE when absent). */
static int mon_parse_ip(struct vty *vty, const char *str, struct ipaddr *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->ipa_type = IPADDR_NONE;
	if (!str)
		return CMD_SUCCESS;
	if (str2ipaddr(str, ip) != 0) {
		vty_out(vty, "%% Malformed IP address %s\n", str);
		return CMD_WARNING_CONFIG_FAILED;
	}
	return CMD_SUCCESS;
}

static int mon_parse_mac(struct vty *vty, const char *str, const char *what,
			 struct ethaddr *mac)
{
	if (!prefix_str2mac(str, mac)) {
		vty_out(vty, "%% Malformed %s MAC address %s\n", what, str);
		return CMD_WARNING_CONFIG_FAILED;
	}
	if (!evpn_mon_mac_is_unicast(mac->octet)) {
		vty_out(vty, "%% %s MAC %s must be a unicast, non-zero address\n",
			what, str);
		return CMD_WARNING_CONFIG_FAILED;
	}
	return CMD_SUCCESS;
}

DEFPY(evpn_mon_server, evpn_mon_server_cmd,
      "monitor server (1-65535)$host_id mac X:X:X:X:X:X$mac [ip <A.B.C.D|X:X::X:X>$ip]",
      MONITOR_STR SERVER_STR HOSTID_STR
      "Monitoring server MAC address\n" "MAC address\n"
      "Monitoring server IP address\n" "IPv4 address\n" "IPv6 address\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct ethaddr macaddr;
	struct ipaddr ipa;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_parse_mac(vty, mac_str, "Monitoring server", &macaddr);
	if (ret != CMD_SUCCESS)
		return ret;
	ret = mon_parse_ip(vty, ip_str, &ipa);
	if (ret != CMD_SUCCESS)
		return ret;

	evpn_mon_server_set(bgp, host_id, &macaddr, &ipa);
	return CMD_SUCCESS;
}

DEFPY(no_evpn_mon_server, no_evpn_mon_server_cmd,
      "no monitor server (1-65535)$host_id [mac X:X:X:X:X:X [ip <A.B.C.D|X:X::X:X>]]",
      NO_STR MONITOR_STR SERVER_STR HOSTID_STR
      "Monitoring server MAC address\n" "MAC address\n"
      "Monitoring server IP address\n" "IPv4 address\n" "IPv6 address\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	if (!evpn_mon_server_find(host_id)) {
		vty_out(vty, "%% No monitoring server with HOST ID %ld\n",
			host_id);
		return CMD_WARNING_CONFIG_FAILED;
	}
	evpn_mon_server_unset(bgp, host_id);
	return CMD_SUCCESS;
}

static int mon_host_args(struct vty *vty, struct bgp *bgp, long vni,
			 const char *mac_str, const char *ip_str,
			 struct ethaddr *mac, struct ipaddr *ip, bool is_no)
{
	int ret;

	if (!mac_str && !ip_str) {
		vty_out(vty,
			"%% Give the monitored host's MAC address, IP address or both\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	if (mac_str) {
		ret = mon_parse_mac(vty, mac_str, "Monitored host", mac);
		if (ret != CMD_SUCCESS)
			return ret;
	}
	ret = mon_parse_ip(vty, ip_str, ip);
	if (ret != CMD_SUCCESS)
		return ret;
	/* While a configuration file is read (bgpd -f, or vtysh -b/-f which
	 * bracket it with XFRR_start/end_configuration), VNIs may not be known
	 * yet: zebra reports them later. Accept them then, refuse otherwise. */
	if (!is_no && vty->type != VTY_FILE && !bgp_config_inprocess()
	    && !bgp_evpn_lookup_vni(bgp, vni)) {
		vty_out(vty,
			"%% Unknown VNI %ld: no local VXLAN device and no 'vni %ld' configuration\n",
			vni, vni);
		return CMD_WARNING_CONFIG_FAILED;
	}
	return CMD_SUCCESS;
}

DEFPY(evpn_mon_host, evpn_mon_host_cmd,
      "[no$no] monitor host vni (1-16777215)$vni [mac X:X:X:X:X:X$mac] [ip <A.B.C.D|X:X::X:X>$ip] server (1-65535)$host_id",
      NO_STR MONITOR_STR "Monitored host\n" "VNI of the monitored host\n"
      "VNI number\n"
      "Monitored host MAC address\n" "MAC address\n"
      "Monitored host IP address\n" "IPv4 address\n" "IPv6 address\n"
      SERVER_STR HOSTID_STR)
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct ethaddr macaddr;
	struct ipaddr ipa;
	struct mon_host *h;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_host_args(vty, bgp, vni, mac_str, ip_str, &macaddr, &ipa,
			    !!no);
	if (ret != CMD_SUCCESS)
		return ret;
	if (!no) {
		evpn_mon_host_set(bgp, vni, mac_str ? &macaddr : NULL, &ipa,
				  host_id);
		return CMD_SUCCESS;
	}
	h = evpn_mon_host_find(vni, mac_str ? &macaddr : NULL, &ipa, host_id);
	if (!h) {
		vty_out(vty, "%% No such monitored host\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	evpn_mon_host_unset(bgp, h);
	return CMD_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* show                                                                */
/* ------------------------------------------------------------------ */

struct mon_import_walk {
	const struct prefix_evpn *p;
	json_object *json_arr;
	char *buf;
	size_t size;
};

static void mon_import_cb(struct hash_bucket *bucket, void *arg)
{
	struct bgpevpn *vpn = bucket->data;
	struct mon_import_walk *w = arg;
	struct bgp_dest *dest;
	struct bgp_path_info *pi;
	bool selected = false;
	size_t len;

	dest = bgp_node_lookup(vpn->route_table, (struct prefix *)w->p);
	if (!dest)
		return;
	for (pi = bgp_dest_get_bgp_path_info(dest); pi; pi = pi->next)
		if (CHECK_FLAG(pi->flags, BGP_PATH_SELECTED))
			selected = true;
	bgp_dest_unlock_node(dest);
	if (!selected)
		return;
	if (w->json_arr)
		json_object_array_add(w->json_arr,
				      json_object_new_int64(vpn->vni));
	len = strlen(w->buf);
	if (len < w->size)
		snprintf(w->buf + len, w->size - len, "%s%u", len ? "," : "",
			 vpn->vni);
}

static void mon_show_route(struct vty *vty, struct bgp *bgp,
			   const struct prefix_evpn *p,
			   const struct prefix_rd *prd,
			   struct bgp_path_info *pi, json_object *json_arr)
{
	struct evpn_mon_route r;
	struct mon_import_walk w = {.p = p};
	char imported[128] = "";
	char rdbuf[RD_ADDRSTRLEN];
	char host[80], server[80], ipb[INET6_ADDRSTRLEN];
	bool local = (pi->peer == bgp->peer_self);
	json_object *json = NULL;
	struct ethaddr mac;

	evpn_mon_route_from_path(&r, p, prd, pi->attr);
	prefix_rd2str(prd, rdbuf, sizeof(rdbuf));
	w.buf = imported;
	w.size = sizeof(imported);
	if (json_arr) {
		json = json_object_new_object();
		w.json_arr = json_object_new_array();
	}
	hash_iterate(bgp->vnihash, mon_import_cb, &w);

	if (json) {
		json_object_string_add(json, "origin",
				       local ? "local" : "remote");
		json_object_string_add(json, "rd", rdbuf);
		evpn_mon_route2json(&r, true, json);
		json_object_object_add(json, "importedInto", w.json_arr);
		json_object_array_add(json_arr, json);
		return;
	}

	memcpy(mac.octet, r.host_mac, 6);
	host[0] = '\0';
	if (r.host_mac_len)
		snprintfrr(host, sizeof(host), "%pEA", &mac);
	if (r.host_ip.len) {
		inet_ntop(r.host_ip.len == 4 ? AF_INET : AF_INET6,
			  r.host_ip.addr, ipb, sizeof(ipb));
		snprintf(host + strlen(host), sizeof(host) - strlen(host),
			 "%s%s", r.host_mac_len ? "/" : "", ipb);
	}
	memcpy(mac.octet, r.server_mac, 6);
	snprintfrr(server, sizeof(server), "%pEA", &mac);
	if (r.server_ip.len) {
		inet_ntop(r.server_ip.len == 4 ? AF_INET : AF_INET6,
			  r.server_ip.addr, ipb, sizeof(ipb));
		snprintf(server + strlen(server), sizeof(server) - strlen(server),
			 "/%s", ipb);
	}
	inet_ntop(AF_INET, r.orig_ip, ipb, sizeof(ipb));
	vty_out(vty, "%-7s %-15s %-21s %-8u %-38s %-5u %-38s %s\n",
		local ? "local" : "remote", ipb, rdbuf, r.vni, host, r.host_id,
		server, imported[0] ? imported : "-");
}

/* Malformed NLRI per reason, keyed by the codec's stable names. Every
 * reason is present, zero or not, so that the keys do not depend on what
 * was received; their sum is rxMalformed. */
static json_object *mon_malformed_json(void)
{
	json_object *j = json_object_new_object();
	enum evpn_mon_error err;

	for (err = EVPN_MON_OK + 1; err < EVPN_MON_ERR__MAX; err++)
		json_object_int_add(j, evpn_mon_errname(err),
				    evpn_mon.stats.rx_malformed_by[err]);
	return j;
}

/* Text form: the totals, then the reasons seen so far (non-zero only). */
static void mon_show_counters(struct vty *vty)
{
	const struct evpn_mon_stats *st = &evpn_mon.stats;
	enum evpn_mon_error err;

	vty_out(vty,
		"\nCounters: %" PRIu64 " routes, %" PRIu64
		" withdrawals, %" PRIu64 " malformed NLRI received; %" PRIu64
		" encode errors\n",
		st->rx_routes, st->rx_withdraws, st->rx_malformed,
		st->tx_encode_errors);
	if (!st->rx_malformed)
		return;
	vty_out(vty, "Malformed NLRI by reason:\n");
	for (err = EVPN_MON_OK + 1; err < EVPN_MON_ERR__MAX; err++)
		if (st->rx_malformed_by[err])
			vty_out(vty, "  %-20s %10" PRIu64 "  %s\n",
				evpn_mon_errname(err), st->rx_malformed_by[err],
				evpn_mon_strerror(err));
}

DEFPY(show_bgp_evpn_monitor, show_bgp_evpn_monitor_cmd,
      "show bgp l2vpn evpn monitor [json$uj]",
      SHOW_STR BGP_STR L2VPN_HELP_STR EVPN_HELP_STR
      "evpn-monitor monitoring sessions\n" JSON_STR)
{
	struct bgp *bgp = bgp_get_evpn();
	struct bgp_dest *rd_dest, *dest;
	struct bgp_table *table;
	struct bgp_path_info *pi;
	struct listnode *node;
	struct mon_host *h;
	json_object *json = NULL, *jsessions = NULL, *jcfg = NULL;

	if (uj) {
		json = json_object_new_object();
		jsessions = json_object_new_array();
		jcfg = json_object_new_array();
	}
	if (!bgp) {
		if (uj) {
			json_object_object_add(json, "sessions", jsessions);
			json_object_object_add(json, "configured", jcfg);
			vty_json(vty, json);
		} else
			vty_out(vty, "No EVPN instance\n");
		return CMD_SUCCESS;
	}

	if (!uj)
		vty_out(vty, "%-7s %-15s %-21s %-8s %-38s %-5s %-38s %s\n",
			"Origin", "Originator", "RD", "VNI", "Host",
			"HOST", "Server", "Imported into VNIs");

	for (rd_dest = bgp_table_top(bgp->rib[AFI_L2VPN][SAFI_EVPN]); rd_dest;
	     rd_dest = bgp_route_next(rd_dest)) {
		const struct prefix_rd *prd =
			(const struct prefix_rd *)bgp_dest_get_prefix(rd_dest);

		table = bgp_dest_get_bgp_table_info(rd_dest);
		if (!table)
			continue;
		for (dest = bgp_table_top(table); dest;
		     dest = bgp_route_next(dest)) {
			const struct prefix_evpn *p =
				(const struct prefix_evpn *)bgp_dest_get_prefix(
					dest);

			if (p->prefix.route_type != EVPN_MON_ROUTE_TYPE)
				continue;
			for (pi = bgp_dest_get_bgp_path_info(dest); pi;
			     pi = pi->next)
				if (CHECK_FLAG(pi->flags, BGP_PATH_SELECTED))
					mon_show_route(vty, bgp, p, prd, pi,
						       jsessions);
		}
	}

	/* This leaf's configuration and what became of it. */
	if (!uj && listcount(evpn_mon.hosts))
		vty_out(vty, "\nConfigured on this leaf:\n");
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h)) {
		char ipb[INET6_ADDRSTRLEN] = "";

		if (!IS_IPADDR_NONE(&h->ip))
			ipaddr2str(&h->ip, ipb, sizeof(ipb));
		if (uj) {
			json_object *j = json_object_new_object();

			json_object_int_add(j, "vni", h->vni);
			if (h->has_mac)
				json_object_string_addf(j, "hostMac", "%pEA",
							&h->mac);
			if (ipb[0])
				json_object_string_add(j, "hostIp", ipb);
			json_object_int_add(j, "hostId", h->host_id);
			json_object_string_add(j, "state",
					       evpn_mon_host_state(bgp, h));
			json_object_array_add(jcfg, j);
		} else {
			char macb[ETHER_ADDR_STRLEN] = "-";

			if (h->has_mac)
				prefix_mac2str(&h->mac, macb, sizeof(macb));
			vty_out(vty, "  vni %u host %s %s server %u: %s\n",
				h->vni, macb, ipb[0] ? ipb : "-", h->host_id,
				evpn_mon_host_state(bgp, h));
		}
	}

	if (uj) {
		json_object *jstats = json_object_new_object();

		json_object_object_add(json, "sessions", jsessions);
		json_object_object_add(json, "configured", jcfg);
		json_object_int_add(jstats, "rxRoutes",
				    evpn_mon.stats.rx_routes);
		json_object_int_add(jstats, "rxWithdraws",
				    evpn_mon.stats.rx_withdraws);
		json_object_int_add(jstats, "rxMalformed",
				    evpn_mon.stats.rx_malformed);
		json_object_object_add(jstats, "rxMalformedByReason",
				       mon_malformed_json());
		json_object_int_add(jstats, "txEncodeErrors",
				    evpn_mon.stats.tx_encode_errors);
		json_object_object_add(json, "counters", jstats);
		vty_json(vty, json);
	} else {
		mon_show_counters(vty);
	}
	return CMD_SUCCESS;
}

DEFPY(show_bgp_evpn_monitor_feed, show_bgp_evpn_monitor_feed_cmd,
      "show bgp l2vpn evpn monitor feed [json$uj]",
      SHOW_STR BGP_STR L2VPN_HELP_STR EVPN_HELP_STR
      "evpn-monitor monitoring sessions\n"
      "Feed to the local fpm-consumer\n" JSON_STR)
{
	evpn_mon_feed_show(vty, !!uj);
	return CMD_SUCCESS;
}

/* Lines inside "address-family l2vpn evpn". */
static int evpn_mon_config_write(struct vty *vty, struct bgp *bgp)
{
	struct listnode *node;
	struct mon_server *s;
	struct mon_host *h;

	if (bgp->inst_type != BGP_INSTANCE_TYPE_DEFAULT)
		return 0;
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.servers, node, s)) {
		vty_out(vty, "  monitor server %u mac %pEA", s->host_id,
			&s->mac);
		if (!IS_IPADDR_NONE(&s->ip))
			vty_out(vty, " ip %pIA", &s->ip);
		vty_out(vty, "\n");
	}
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h)) {
		vty_out(vty, "  monitor host vni %u", h->vni);
		if (h->has_mac)
			vty_out(vty, " mac %pEA", &h->mac);
		if (!IS_IPADDR_NONE(&h->ip))
			vty_out(vty, " ip %pIA", &h->ip);
		vty_out(vty, " server %u\n", h->host_id);
	}
	return 0;
}

void evpn_mon_vty_init(void)
{
	hook_register(bgp_evpn_config_write, evpn_mon_config_write);

	install_element(BGP_EVPN_NODE, &evpn_mon_server_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_server_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_host_cmd);
	install_element(VIEW_NODE, &show_bgp_evpn_monitor_cmd);
	install_element(VIEW_NODE, &show_bgp_evpn_monitor_feed_cmd);
}
