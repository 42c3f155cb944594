// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * evpn-monitor bgpd module: configuration and show commands.
 *
 *  router bgp ASN
 *   address-family l2vpn evpn
 *    monitor server (1-65535) mac X:X:X:X:X:X [ip A.B.C.D|X:X::X:X]
 *    monitor profile NAME [direction|filter|sample|truncate|police ...]
 *    monitor collector (1-65535) ip A.B.C.D erspan (2-3) [session-id|dscp|ttl|gre-protocol ...]
 *    monitor host vni (1-16777215) [mac X:X:X:X:X:X] [ip A.B.C.D|X:X::X:X] server|collector (1-65535) [profile NAME]
 *
 *    monitor import ... (bgp_evpn_mon_import.c)
 *
 *  show bgp l2vpn evpn monitor [json]
 *  show bgp l2vpn evpn monitor profile [NAME] [json]
 *  show bgp l2vpn evpn monitor collector [(1-65535)] [json]
 */
#include <zebra.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "lib/command.h"
#include "lib/json.h"
#include "lib/prefix.h"
#include "lib/vty.h"
#include "lib/buffer.h"
#include "lib/hash.h"
#include "lib/network.h"
#include "lib/jhash.h"

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

DEFINE_MTYPE_STATIC(EVPN_MON, EVPN_MON_SHOW, "EVPN monitor show in progress");
DEFINE_MTYPE_STATIC(EVPN_MON, EVPN_MON_IMPORTS, "EVPN monitor imports table");

#ifndef VTYSH_EXTRACT_PL
#include "bgpd/bgp_evpn_mon_vty_clippy.c"
#endif

#define MONITOR_STR "evpn-monitor: monitoring sessions\n"
#define SERVER_STR "Monitoring server\n"
#define HOSTID_STR "HOST ID (carried as the VXLAN-GBP Group Policy ID)\n"
#define PROFILE_STR "Mirror profile: the options of the sessions naming it\n"
#define PROFILE_NAME_STR "Profile name (1-16 characters: A-Z a-z 0-9 _ . -)\n"
#define FILTER_STR "Filter line (the lines are ORed; a line matches when all its fields do)\n"
#define FILTER_NUM_STR "Filter line number\n"
#define UDF_STR "User-defined field: 16 bits at an offset, under a mask\n"
#define UDF_NUM_STR "User-defined field number\n"
#define COLLECTOR_STR "ERSPAN collector: copies sent as GRE/ERSPAN to an IP address\n"
#define COLLECTOR_ID_STR "Collector ID\n"

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

static bool mon_profile_name_ok(struct vty *vty, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_'
		    && name[i] != '.' && name[i] != '-')
			break;
	if (n >= 1 && n <= EVPN_MON_PROFILE_NAME_MAX && i == n)
		return true;
	vty_out(vty,
		"%% Malformed profile name %s: 1 to %d characters of A-Z a-z 0-9 _ . -\n",
		name, EVPN_MON_PROFILE_NAME_MAX);
	return false;
}

DEFPY(evpn_mon_host, evpn_mon_host_cmd,
      "[no$no] monitor host vni (1-16777215)$vni [mac X:X:X:X:X:X$mac] [ip <A.B.C.D|X:X::X:X>$ip] <server (1-65535)$host_id|collector (1-65535)$collector_id> [profile WORD$profile]",
      NO_STR MONITOR_STR "Monitored host\n" "VNI of the monitored host\n"
      "VNI number\n"
      "Monitored host MAC address\n" "MAC address\n"
      "Monitored host IP address\n" "IPv4 address\n" "IPv6 address\n"
      SERVER_STR HOSTID_STR COLLECTOR_STR COLLECTOR_ID_STR
      PROFILE_STR PROFILE_NAME_STR)
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct ethaddr macaddr;
	struct ipaddr ipa;
	struct mon_host *h;
	uint8_t dest = collector_id_str ? EVPN_MON_DEST_COLLECTOR
					: EVPN_MON_DEST_SERVER;
	uint32_t id = collector_id_str ? collector_id : host_id;
	char err[256];
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_host_args(vty, bgp, vni, mac_str, ip_str, &macaddr, &ipa,
			    !!no);
	if (ret != CMD_SUCCESS)
		return ret;
	if (!no) {
		/* A profile or collector that does not exist (yet) is
		 * accepted: the session waits for it, state
		 * "profile-missing" / "collector-missing". */
		if (profile && !mon_profile_name_ok(vty, profile))
			return CMD_WARNING_CONFIG_FAILED;
		if (dest == EVPN_MON_DEST_COLLECTOR && profile
		    && evpn_mon_profile_check_collector(profile, id, err,
							sizeof(err))
			       != EVPN_MON_OPT_OK) {
			vty_out(vty, "%% %s\n", err);
			return CMD_WARNING_CONFIG_FAILED;
		}
		evpn_mon_host_set(bgp, vni, mac_str ? &macaddr : NULL, &ipa,
				  dest, id, profile);
		return CMD_SUCCESS;
	}
	h = evpn_mon_host_find(vni, mac_str ? &macaddr : NULL, &ipa, dest,
			       id);
	if (!h) {
		vty_out(vty, "%% No such monitored host\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	evpn_mon_host_unset(bgp, h);
	return CMD_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* monitor profile                                                     */
/* ------------------------------------------------------------------ */

/* Every profile command works the same way: copy the profile's
 * configuration (or a new one's), change the copy, validate the options it
 * stands for as a whole, and only then create/replace the profile. An error
 * leaves nothing changed. */
static void mon_profile_cfg_default(struct mon_profile_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->direction = EVPN_MON_DIR_BOTH;
}

static int mon_profile_load(struct vty *vty, const char *name,
			    struct mon_profile_cfg *cfg)
{
	struct mon_profile *p;

	if (!mon_profile_name_ok(vty, name))
		return CMD_WARNING_CONFIG_FAILED;
	p = evpn_mon_profile_find(name);
	if (p)
		*cfg = p->cfg;
	else
		mon_profile_cfg_default(cfg);
	return CMD_SUCCESS;
}

static int mon_profile_apply(struct vty *vty, struct bgp *bgp,
			     const char *name,
			     const struct mon_profile_cfg *cfg)
{
	char err[160];

	if (evpn_mon_profile_check(name, cfg, err, sizeof(err))
	    != EVPN_MON_OPT_OK) {
		vty_out(vty, "%% %s\n", err);
		return CMD_WARNING_CONFIG_FAILED;
	}
	evpn_mon_profile_commit(bgp, evpn_mon_profile_get(name, NULL), cfg);
	return CMD_SUCCESS;
}

/* For the `no` forms of a setting: CMD_SUCCESS with *done set when there
 * is nothing to remove, which is not an error (a reload may remove a
 * profile's lines after the profile itself). */
static int mon_profile_for_no(struct vty *vty, const char *name, bool *done)
{
	if (!mon_profile_name_ok(vty, name))
		return CMD_WARNING_CONFIG_FAILED;
	*done = !evpn_mon_profile_find(name);
	return CMD_SUCCESS;
}

DEFPY(evpn_mon_profile, evpn_mon_profile_cmd,
      "monitor profile WORD$name",
      MONITOR_STR PROFILE_STR PROFILE_NAME_STR)
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	if (evpn_mon_profile_find(name))
		return CMD_SUCCESS;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	return mon_profile_apply(vty, bgp, name, &cfg);
}

DEFPY(no_evpn_mon_profile, no_evpn_mon_profile_cmd,
      "no monitor profile WORD$name",
      NO_STR MONITOR_STR PROFILE_STR PROFILE_NAME_STR)
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile *p;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	p = evpn_mon_profile_find(name);
	if (!p) {
		vty_out(vty, "%% No monitor profile %s\n", name);
		return CMD_WARNING_CONFIG_FAILED;
	}
	evpn_mon_profile_delete(bgp, p);
	return CMD_SUCCESS;
}

DEFPY(evpn_mon_profile_direction, evpn_mon_profile_direction_cmd,
      "monitor profile WORD$name direction <rx|tx|both>$dir",
      MONITOR_STR PROFILE_STR PROFILE_NAME_STR
      "Which packets of the monitored host (default both)\n"
      "Packets to the monitored host\n"
      "Packets from the monitored host\n"
      "Both directions\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	if (strcmp(dir, "rx") == 0)
		cfg.direction = EVPN_MON_DIR_RX;
	else if (strcmp(dir, "tx") == 0)
		cfg.direction = EVPN_MON_DIR_TX;
	else
		cfg.direction = EVPN_MON_DIR_BOTH;
	return mon_profile_apply(vty, bgp, name, &cfg);
}

DEFPY(no_evpn_mon_profile_direction, no_evpn_mon_profile_direction_cmd,
      "no monitor profile WORD$name direction [<rx|tx|both>]",
      NO_STR MONITOR_STR PROFILE_STR PROFILE_NAME_STR
      "Which packets of the monitored host (default both)\n"
      "Packets to the monitored host\n"
      "Packets from the monitored host\n"
      "Both directions\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	bool done;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_for_no(vty, name, &done);
	if (ret != CMD_SUCCESS || done)
		return ret;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	cfg.direction = EVPN_MON_DIR_BOTH;
	return mon_profile_apply(vty, bgp, name, &cfg);
}

/* protocol <tcp|udp|icmp|icmpv6|(0-255)> */
static uint8_t mon_proto_num(const char *s)
{
	if (strcmp(s, "tcp") == 0)
		return IPPROTO_TCP;
	if (strcmp(s, "udp") == 0)
		return IPPROTO_UDP;
	if (strcmp(s, "icmp") == 0)
		return IPPROTO_ICMP;
	if (strcmp(s, "icmpv6") == 0)
		return IPPROTO_ICMPV6;
	return (uint8_t)strtoul(s, NULL, 10);
}

static uint8_t mon_prefix_set(struct evpn_mon_prefix *out,
			      const struct prefix *p)
{
	memset(out, 0, sizeof(*out));
	out->len = p->prefixlen;
	if (p->family == AF_INET) {
		memcpy(out->addr, &p->u.prefix4, 4);
		return 4;
	}
	memcpy(out->addr, &p->u.prefix6, 16);
	return 6;
}

#define FILTER_5TUPLE_HELP                                                     \
	"IP protocol\n" "TCP (6)\n" "UDP (17)\n" "ICMP (1)\n" "ICMPv6 (58)\n"  \
	"Protocol number\n"                                                    \
	"Source prefix\n" "IPv4 prefix\n" "IPv6 prefix\n"                      \
	"Destination prefix\n" "IPv4 prefix\n" "IPv6 prefix\n"                 \
	"Source port (needs protocol tcp or udp)\n" "Port\n"                   \
	"Port range\n" "Last port\n"                                           \
	"Destination port (needs protocol tcp or udp)\n" "Port\n"              \
	"Port range\n" "Last port\n"

/* The 5-tuple part is spelled out in both commands below: clippy does not
 * expand string macros in command definitions. */
DEFPY(evpn_mon_profile_filter, evpn_mon_profile_filter_cmd,
      "monitor profile WORD$name filter (1-4)$line [protocol <tcp|udp|icmp|icmpv6|(0-255)>$proto] [src <A.B.C.D/M|X:X::X:X/M>$src] [dst <A.B.C.D/M|X:X::X:X/M>$dst] [sport (0-65535)$sport [to (0-65535)$sport_to]] [dport (0-65535)$dport [to (0-65535)$dport_to]]",
      MONITOR_STR PROFILE_STR PROFILE_NAME_STR FILTER_STR FILTER_NUM_STR
      FILTER_5TUPLE_HELP)
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	struct mon_profile_line *l;
	uint8_t sfam = 0, dfam = 0;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	l = &cfg.line[line - 1];
	/* Replaces the line's 5-tuple; its UDFs stay. */
	l->tuple_set = true;
	l->preset = EVPN_MON_PRESET_NONE;
	l->f.family = 0;
	l->f.proto = proto ? mon_proto_num(proto) : 0;
	memset(&l->f.src, 0, sizeof(l->f.src));
	memset(&l->f.dst, 0, sizeof(l->f.dst));
	/* DEFPY hands out prefixes always; a given one has its string */
	if (src_str)
		sfam = mon_prefix_set(&l->f.src, src);
	if (dst_str)
		dfam = mon_prefix_set(&l->f.dst, dst);
	if (sfam && dfam && sfam != dfam) {
		vty_out(vty,
			"%% src and dst of a filter line must be of the same address family\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	l->f.family = sfam ? sfam : dfam;
	l->pfx_set = (src_str ? 1 : 0) | (dst_str ? 2 : 0);
	l->f.sport_lo = sport_str ? sport : 0;
	l->f.sport_hi = sport_str ? (sport_to_str ? sport_to : sport) : 0;
	l->f.dport_lo = dport_str ? dport : 0;
	l->f.dport_hi = dport_str ? (dport_to_str ? dport_to : dport) : 0;
	/* The options know no port 0 on its own: 0 and 0-65535 mean any. */
	if ((sport_str && !evpn_mon_filter_has_sport(&l->f))
	    || (dport_str && !evpn_mon_filter_has_dport(&l->f))) {
		vty_out(vty,
			"%% Port 0 and the range 0 to 65535 match any port: leave the port out\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return mon_profile_apply(vty, bgp, name, &cfg);
}

DEFPY(no_evpn_mon_profile_filter, no_evpn_mon_profile_filter_cmd,
      "no monitor profile WORD$name filter (1-4)$line [protocol <tcp|udp|icmp|icmpv6|(0-255)>$proto] [src <A.B.C.D/M|X:X::X:X/M>$src] [dst <A.B.C.D/M|X:X::X:X/M>$dst] [sport (0-65535)$sport [to (0-65535)$sport_to]] [dport (0-65535)$dport [to (0-65535)$dport_to]]",
      NO_STR MONITOR_STR PROFILE_STR PROFILE_NAME_STR FILTER_STR
      FILTER_NUM_STR FILTER_5TUPLE_HELP)
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	bool done;
	struct mon_profile_line *l;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_for_no(vty, name, &done);
	if (ret != CMD_SUCCESS || done)
		return ret;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	l = &cfg.line[line - 1];
	if (!proto && !src_str && !dst_str && !sport_str && !dport_str) {
		/* "no ... filter N": the whole line, UDFs included */
		memset(l, 0, sizeof(*l));
	} else {
		/* The negation of a 5-tuple line (what a reload sends when
		 * the line changed): only the 5-tuple goes, the line's UDF
		 * lines are configuration lines of their own. */
		struct evpn_mon_udf udf[EVPN_MON_MAX_UDFS];

		memcpy(udf, l->f.udf, sizeof(udf));
		memset(&l->f, 0, sizeof(l->f));
		memcpy(l->f.udf, udf, sizeof(udf));
		l->tuple_set = false;
		l->pfx_set = 0;
		l->preset = EVPN_MON_PRESET_NONE;
	}
	return mon_profile_apply(vty, bgp, name, &cfg);
}

DEFPY(evpn_mon_profile_filter_preset, evpn_mon_profile_filter_preset_cmd,
      "[no$no] monitor profile WORD$name filter (1-4)$line preset <rocev2-cnp|rocev2-nak>$preset",
      NO_STR MONITOR_STR PROFILE_STR PROFILE_NAME_STR FILTER_STR
      FILTER_NUM_STR
      "Replace the line with a predefined one\n"
      "RoCEv2 congestion notification packets (UDP 4791, BTH opcode 0x81)\n"
      "RoCEv2 NAKs (UDP 4791, RC acknowledge with an AETH NAK syndrome)\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	bool done;
	struct mon_profile_line *l;
	struct evpn_mon_filter f;
	enum evpn_mon_preset which;
	int ret, u;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	if (no) {
		ret = mon_profile_for_no(vty, name, &done);
		if (ret != CMD_SUCCESS || done)
			return ret;
	}
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	l = &cfg.line[line - 1];
	memset(l, 0, sizeof(*l));
	if (!no) {
		which = strcmp(preset, "rocev2-cnp") == 0
				? EVPN_MON_PRESET_ROCEV2_CNP
				: EVPN_MON_PRESET_ROCEV2_NAK;
		evpn_mon_filter_preset(which, &f);
		l->tuple_set = true;
		l->preset = which;
		l->f = f;
		l->f.nudf = 0;
		for (u = 0; u < f.nudf; u++)
			l->udf_set |= 1u << u;
	}
	return mon_profile_apply(vty, bgp, name, &cfg);
}

/* 0xHHHH or decimal, min..65535 */
static bool mon_parse_u16_min(struct vty *vty, const char *what,
			      const char *s, unsigned long min, uint16_t *out)
{
	const char *digits = s;
	unsigned long v = 0;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		digits = s + 2;
		base = 16;
	}
	if (!*digits || strlen(digits) > 6)
		goto bad;
	for (; *digits; digits++) {
		if (base == 16 ? !isxdigit((unsigned char)*digits)
			       : !isdigit((unsigned char)*digits))
			goto bad;
		v = v * base
		    + (isdigit((unsigned char)*digits)
			       ? (unsigned long)(*digits - '0')
			       : (unsigned long)(tolower((unsigned char)*digits)
						 - 'a' + 10));
	}
	if (v > 0xffff || v < min)
		goto bad;
	*out = (uint16_t)v;
	return true;
bad:
	vty_out(vty, "%% Malformed %s %s: 0xHHHH or decimal, %lu to 65535\n",
		what, s, min);
	return false;
}

static bool mon_parse_u16(struct vty *vty, const char *what, const char *s,
			  uint16_t *out)
{
	return mon_parse_u16_min(vty, what, s, 0, out);
}

DEFPY(evpn_mon_profile_udf, evpn_mon_profile_udf_cmd,
      "monitor profile WORD$name filter (1-4)$line udf (1-8)$udf <l3|l4|l5>$base offset (0-126)$offset value WORD$value mask WORD$mask",
      MONITOR_STR PROFILE_STR PROFILE_NAME_STR FILTER_STR FILTER_NUM_STR
      UDF_STR UDF_NUM_STR
      "From the start of the L3 header\n"
      "From the start of the L4 header\n"
      "From the L4 payload (after UDP's 8 octets or the whole TCP header)\n"
      "Offset of the 16-bit field\n" "Octets\n"
      "Value (big-endian)\n" "0xHHHH or decimal\n"
      "Mask: the bits of the value that must match\n" "0xHHHH or decimal\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	struct mon_profile_line *l;
	struct evpn_mon_udf *d;
	uint16_t v, m;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	if (!mon_parse_u16(vty, "value", value, &v)
	    || !mon_parse_u16(vty, "mask", mask, &m))
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	l = &cfg.line[line - 1];
	l->udf_set |= 1u << (udf - 1);
	d = &l->f.udf[udf - 1];
	d->base = base[1] == '3' ? EVPN_MON_UDF_L3
		  : base[1] == '4' ? EVPN_MON_UDF_L4
				   : EVPN_MON_UDF_L5;
	d->offset = offset;
	d->value = v;
	d->mask = m;
	return mon_profile_apply(vty, bgp, name, &cfg);
}

DEFPY(no_evpn_mon_profile_udf, no_evpn_mon_profile_udf_cmd,
      "no monitor profile WORD$name filter (1-4)$line udf (1-8)$udf [<l3|l4|l5> offset (0-126) value WORD mask WORD]",
      NO_STR MONITOR_STR PROFILE_STR PROFILE_NAME_STR FILTER_STR
      FILTER_NUM_STR UDF_STR UDF_NUM_STR
      "From the start of the L3 header\n"
      "From the start of the L4 header\n"
      "From the L4 payload (after UDP's 8 octets or the whole TCP header)\n"
      "Offset of the 16-bit field\n" "Octets\n"
      "Value (big-endian)\n" "0xHHHH or decimal\n"
      "Mask: the bits of the value that must match\n" "0xHHHH or decimal\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	bool done;
	struct mon_profile_line *l;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_for_no(vty, name, &done);
	if (ret != CMD_SUCCESS || done)
		return ret;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	l = &cfg.line[line - 1];
	/* A line made of UDF lines only goes with its last one; a line
	 * with a 5-tuple line of its own ("filter N ...") stays. */
	l->udf_set &= ~(1u << (udf - 1));
	memset(&l->f.udf[udf - 1], 0, sizeof(l->f.udf[0]));
	return mon_profile_apply(vty, bgp, name, &cfg);
}

DEFPY(evpn_mon_profile_sample, evpn_mon_profile_sample_cmd,
      "monitor profile WORD$name sample 1-in (1-8388608)$n",
      MONITOR_STR PROFILE_STR PROFILE_NAME_STR
      "Mirror a random sample of the packets\n"
      "One in N on average\n" "N\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	cfg.sample = n > 1 ? n : 0;
	return mon_profile_apply(vty, bgp, name, &cfg);
}

DEFPY(no_evpn_mon_profile_sample, no_evpn_mon_profile_sample_cmd,
      "no monitor profile WORD$name sample [1-in (1-8388608)$n]",
      NO_STR MONITOR_STR PROFILE_STR PROFILE_NAME_STR
      "Mirror a random sample of the packets\n"
      "One in N on average\n" "N\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	bool done;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_for_no(vty, name, &done);
	if (ret != CMD_SUCCESS || done)
		return ret;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	cfg.sample = 0;
	return mon_profile_apply(vty, bgp, name, &cfg);
}

DEFPY(evpn_mon_profile_truncate, evpn_mon_profile_truncate_cmd,
      "monitor profile WORD$name truncate (64-9216)$len",
      MONITOR_STR PROFILE_STR PROFILE_NAME_STR
      "Mirror only the first octets of each packet (the original is unchanged)\n"
      "Octets\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	cfg.truncate = len;
	return mon_profile_apply(vty, bgp, name, &cfg);
}

DEFPY(no_evpn_mon_profile_truncate, no_evpn_mon_profile_truncate_cmd,
      "no monitor profile WORD$name truncate [(64-9216)]",
      NO_STR MONITOR_STR PROFILE_STR PROFILE_NAME_STR
      "Mirror only the first octets of each packet (the original is unchanged)\n"
      "Octets\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	bool done;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_for_no(vty, name, &done);
	if (ret != CMD_SUCCESS || done)
		return ret;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	cfg.truncate = 0;
	return mon_profile_apply(vty, bgp, name, &cfg);
}

DEFPY(evpn_mon_profile_police, evpn_mon_profile_police_cmd,
      "monitor profile WORD$name police <pps|bps>$unit (1-400000000000)$rate burst (1-100000000)$burst",
      MONITOR_STR PROFILE_STR PROFILE_NAME_STR
      "Limit the copies of each session on each leaf (token bucket)\n"
      "Rate in packets per second, burst in packets\n"
      "Rate in bits per second, burst in octets\n"
      "Rate\n"
      "Bucket size\n" "Packets (pps) or octets (bps)\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	cfg.police_unit = strcmp(unit, "pps") == 0 ? EVPN_MON_POLICE_PPS
						   : EVPN_MON_POLICE_BPS;
	cfg.police_rate = (uint64_t)rate;
	cfg.police_burst = (uint32_t)burst;
	return mon_profile_apply(vty, bgp, name, &cfg);
}

DEFPY(no_evpn_mon_profile_police, no_evpn_mon_profile_police_cmd,
      "no monitor profile WORD$name police [<pps|bps> (1-400000000000) burst (1-100000000)]",
      NO_STR MONITOR_STR PROFILE_STR PROFILE_NAME_STR
      "Limit the copies of each session on each leaf (token bucket)\n"
      "Rate in packets per second, burst in packets\n"
      "Rate in bits per second, burst in octets\n"
      "Rate\n"
      "Bucket size\n" "Packets (pps) or octets (bps)\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct mon_profile_cfg cfg;
	bool done;
	int ret;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	ret = mon_profile_for_no(vty, name, &done);
	if (ret != CMD_SUCCESS || done)
		return ret;
	ret = mon_profile_load(vty, name, &cfg);
	if (ret != CMD_SUCCESS)
		return ret;
	cfg.police_unit = EVPN_MON_POLICE_NONE;
	cfg.police_rate = 0;
	cfg.police_burst = 0;
	return mon_profile_apply(vty, bgp, name, &cfg);
}

/* ------------------------------------------------------------------ */
/* monitor collector                                                   */
/* ------------------------------------------------------------------ */

static uint16_t mon_gre_default(uint8_t version)
{
	return version == 2 ? EVPN_MON_GRE_PROTO_ERSPAN2
			    : EVPN_MON_GRE_PROTO_ERSPAN3;
}

/* The copies are routed to it over the underlay: a unicast IPv4 address a
 * VTEP can have a route to. */
static bool mon_collector_ip_ok(struct vty *vty, const char *str,
				struct in_addr ip)
{
	uint32_t a = ntohl(ip.s_addr);

	if (a == 0 || (a >> 24) == 0 || (a >> 24) == 127 || (a >> 28) >= 14) {
		vty_out(vty,
			"%% Collector IP %s must be a unicast address (not 0/8, 127/8, multicast or reserved)\n",
			str);
		return false;
	}
	return true;
}

DEFPY(evpn_mon_collector, evpn_mon_collector_cmd,
      "monitor collector (1-65535)$id ip A.B.C.D$ip erspan (2-3)$version [{session-id (0-1023)$span_id|dscp (0-63)$dscp|ttl (1-255)$ttl|gre-protocol WORD$gre}]",
      MONITOR_STR COLLECTOR_STR COLLECTOR_ID_STR
      "Collector IP address (reached over the underlay)\n" "IPv4 address\n"
      "Encapsulation\n" "ERSPAN type (2: type II, 3: type III)\n"
      "ERSPAN session ID (default: collector ID modulo 1024)\n" "Session ID\n"
      "DSCP of the outer IPv4 header (default 0)\n" "DSCP\n"
      "TTL of the outer IPv4 header (default 64)\n" "TTL\n"
      "GRE protocol type (default 0x88be for type II, 0x22eb for type III)\n"
      "0xHHHH or decimal, 1 to 65535\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);
	struct evpn_mon_erspan e;
	uint16_t gre_proto = 0;

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	if (!mon_collector_ip_ok(vty, ip_str, ip))
		return CMD_WARNING_CONFIG_FAILED;
	if (gre && !mon_parse_u16_min(vty, "gre-protocol", gre, 1, &gre_proto))
		return CMD_WARNING_CONFIG_FAILED;
	/* The whole collector is replaced: what is not given is default. */
	evpn_mon_collector_defaults(id, version, &e);
	if (span_id_str)
		e.span_id = span_id;
	if (dscp_str)
		e.dscp = dscp;
	if (ttl_str)
		e.ttl = ttl;
	/* canonical: the version's own protocol is 0 */
	e.gre_proto = gre_proto == mon_gre_default(version) ? 0 : gre_proto;
	evpn_mon_collector_set(bgp, id, &ip, &e);
	return CMD_SUCCESS;
}

DEFPY(no_evpn_mon_collector, no_evpn_mon_collector_cmd,
      "no monitor collector (1-65535)$id [ip A.B.C.D erspan (2-3) [{session-id (0-1023)|dscp (0-63)|ttl (1-255)|gre-protocol WORD}]]",
      NO_STR MONITOR_STR COLLECTOR_STR COLLECTOR_ID_STR
      "Collector IP address (reached over the underlay)\n" "IPv4 address\n"
      "Encapsulation\n" "ERSPAN type (2: type II, 3: type III)\n"
      "ERSPAN session ID (default: collector ID modulo 1024)\n" "Session ID\n"
      "DSCP of the outer IPv4 header (default 0)\n" "DSCP\n"
      "TTL of the outer IPv4 header (default 64)\n" "TTL\n"
      "GRE protocol type (default 0x88be for type II, 0x22eb for type III)\n"
      "0xHHHH or decimal, 1 to 65535\n")
{
	struct bgp *bgp = mon_bgp_from_vty(vty);

	if (!bgp)
		return CMD_WARNING_CONFIG_FAILED;
	if (!evpn_mon_collector_find(id)) {
		vty_out(vty, "%% No monitor collector %ld\n", id);
		return CMD_WARNING_CONFIG_FAILED;
	}
	/* Its sessions stay configured, withdrawn: "collector-missing". */
	evpn_mon_collector_unset(bgp, id);
	return CMD_SUCCESS;
}

/* "monitor collector ..." without the "monitor collector " part: only what
 * differs from the defaults, so that the line reads back to itself. */
static void mon_collector_str(const struct mon_collector *c, char *buf,
			      size_t size)
{
	struct evpn_mon_erspan def;
	size_t n;

	evpn_mon_collector_defaults(c->id, c->erspan.version, &def);
	n = snprintfrr(buf, size, "%u ip %pI4 erspan %u", c->id, &c->ip,
		       c->erspan.version);
	if (c->erspan.span_id != def.span_id && n < size)
		n += snprintf(buf + n, size - n, " session-id %u",
			      c->erspan.span_id);
	if (c->erspan.dscp != def.dscp && n < size)
		n += snprintf(buf + n, size - n, " dscp %u", c->erspan.dscp);
	if (c->erspan.ttl != def.ttl && n < size)
		n += snprintf(buf + n, size - n, " ttl %u", c->erspan.ttl);
	if (c->erspan.gre_proto && n < size)
		snprintf(buf + n, size - n, " gre-protocol 0x%04x",
			 c->erspan.gre_proto);
}

/* One configured session, for the JSON of the shows. */
static json_object *mon_host_json(struct bgp *bgp, const struct mon_host *h)
{
	json_object *j = json_object_new_object();

	json_object_int_add(j, "vni", h->vni);
	if (h->has_mac)
		json_object_string_addf(j, "hostMac", "%pEA", &h->mac);
	if (!IS_IPADDR_NONE(&h->ip))
		json_object_string_addf(j, "hostIp", "%pIA", &h->ip);
	if (h->dest == EVPN_MON_DEST_COLLECTOR) {
		json_object_string_add(j, "destination", "collector");
		json_object_int_add(j, "collectorId", h->host_id);
	} else {
		json_object_string_add(j, "destination", "server");
		json_object_int_add(j, "hostId", h->host_id);
	}
	if (h->profile[0])
		json_object_string_add(j, "profile", h->profile);
	if (h->originated) {
		struct evpn_mon_route r;
		char sid[EVPN_MON_SESSION_ID_MAX];

		evpn_mon_route_from_path(&r, &h->adv_p, NULL, NULL);
		evpn_mon_session_id(&r, sid, sizeof(sid));
		json_object_string_add(j, "sessionId", sid);
	}
	json_object_string_add(j, "state", evpn_mon_host_state(bgp, h));
	return j;
}

static json_object *mon_collector_json(struct bgp *bgp,
				       const struct mon_collector *c)
{
	json_object *j = json_object_new_object();
	json_object *jsessions = json_object_new_array();
	struct listnode *node;
	struct mon_host *h;

	json_object_int_add(j, "id", c->id);
	json_object_string_addf(j, "ip", "%pI4", &c->ip);
	json_object_int_add(j, "erspanVersion", c->erspan.version);
	json_object_int_add(j, "spanId", c->erspan.span_id);
	json_object_int_add(j, "dscp", c->erspan.dscp);
	json_object_int_add(j, "ttl", c->erspan.ttl);
	json_object_string_addf(j, "greProtocol", "0x%04x",
				c->erspan.gre_proto
					? c->erspan.gre_proto
					: mon_gre_default(c->erspan.version));
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h))
		if (h->dest == EVPN_MON_DEST_COLLECTOR && h->host_id == c->id)
			json_object_array_add(jsessions, mon_host_json(bgp, h));
	json_object_object_add(j, "sessions", jsessions);
	return j;
}

DEFPY(show_bgp_evpn_monitor_collector, show_bgp_evpn_monitor_collector_cmd,
      "show bgp l2vpn evpn monitor collector [(1-65535)$id] [json$uj]",
      SHOW_STR BGP_STR L2VPN_HELP_STR EVPN_HELP_STR
      "evpn-monitor monitoring sessions\n"
      "ERSPAN collectors\n" "Collector ID\n" JSON_STR)
{
	struct bgp *bgp = bgp_get_evpn();
	json_object *json = NULL, *jcoll = NULL;
	struct listnode *node;
	struct mon_collector *c;
	unsigned int shown = 0;
	char buf[128];

	if (uj) {
		json = json_object_new_object();
		jcoll = json_object_new_object();
	}
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.collectors, node, c)) {
		if (id_str && (uint32_t)id != c->id)
			continue;
		shown++;
		if (uj) {
			snprintf(buf, sizeof(buf), "%u", c->id);
			json_object_object_add(jcoll, buf,
					       mon_collector_json(bgp, c));
			continue;
		}
		vty_out(vty,
			"Collector %u: %pI4, ERSPAN type %s, span id %u, dscp %u, ttl %u, GRE protocol 0x%04x; %u session(s)\n",
			c->id, &c->ip, c->erspan.version == 2 ? "II" : "III",
			c->erspan.span_id, c->erspan.dscp, c->erspan.ttl,
			c->erspan.gre_proto
				? c->erspan.gre_proto
				: mon_gre_default(c->erspan.version),
			evpn_mon_collector_users(c->id));
		mon_collector_str(c, buf, sizeof(buf));
		vty_out(vty, "  monitor collector %s\n", buf);
	}
	if (uj) {
		json_object_object_add(json, "collectors", jcoll);
		vty_json(vty, json);
	} else if (id_str && !shown)
		vty_out(vty, "%% No monitor collector %ld\n", id);
	else if (!shown)
		vty_out(vty, "No monitor collectors\n");
	return CMD_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Profile lines (running-config and show)                             */
/* ------------------------------------------------------------------ */

static const char *const mon_dir_names[] = {"both", "rx", "tx"};
static const char *const mon_base_names[] = {"l3", "l4", "l5"};

static const char *mon_preset_name(enum evpn_mon_preset preset)
{
	switch (preset) {
	case EVPN_MON_PRESET_ROCEV2_CNP:
		return "rocev2-cnp";
	case EVPN_MON_PRESET_ROCEV2_NAK:
		return "rocev2-nak";
	case EVPN_MON_PRESET_NONE:
		break;
	}
	return NULL;
}

static void mon_proto_str(uint8_t proto, char *buf, size_t size)
{
	switch (proto) {
	case IPPROTO_TCP:
		strlcpy(buf, "tcp", size);
		break;
	case IPPROTO_UDP:
		strlcpy(buf, "udp", size);
		break;
	case IPPROTO_ICMP:
		strlcpy(buf, "icmp", size);
		break;
	case IPPROTO_ICMPV6:
		strlcpy(buf, "icmpv6", size);
		break;
	default:
		snprintf(buf, size, "%u", proto);
	}
}

static void mon_pfx_str(uint8_t family, const struct evpn_mon_prefix *p,
			char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family == 6 ? AF_INET6 : AF_INET, p->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, p->len);
}

static void mon_ports_str(const char *kw, uint16_t lo, uint16_t hi, char *buf,
			  size_t size)
{
	if (lo == hi)
		snprintf(buf, size, " %s %u", kw, lo);
	else
		snprintf(buf, size, " %s %u to %u", kw, lo, hi);
}

/* The preset a configured line is still equal to, or NONE. */
static enum evpn_mon_preset mon_line_preset(const struct mon_profile_line *l)
{
	struct evpn_mon_filter f = l->f;
	int u;

	if (l->preset == EVPN_MON_PRESET_NONE || !l->tuple_set)
		return EVPN_MON_PRESET_NONE;
	memset(f.udf, 0, sizeof(f.udf));
	f.nudf = 0;
	for (u = 0; u < EVPN_MON_MAX_UDFS; u++)
		if (l->udf_set & (1u << u))
			f.udf[f.nudf++] = l->f.udf[u];
	return evpn_mon_filter_which_preset(&f) == l->preset
		       ? l->preset
		       : EVPN_MON_PRESET_NONE;
}

/* "filter N ..." without the "monitor profile NAME " part. */
static void mon_line_tuple_str(int n, const struct mon_profile_line *l,
			       char *buf, size_t size)
{
	const struct evpn_mon_filter *f = &l->f;
	char tmp[INET6_ADDRSTRLEN + 16];

	snprintf(buf, size, "filter %d", n);
	if (f->proto) {
		mon_proto_str(f->proto, tmp, sizeof(tmp));
		strlcat(buf, " protocol ", size);
		strlcat(buf, tmp, size);
	}
	if (f->src.len || (l->pfx_set & 1)) {
		mon_pfx_str(f->family, &f->src, tmp, sizeof(tmp));
		strlcat(buf, " src ", size);
		strlcat(buf, tmp, size);
	}
	if (f->dst.len || (l->pfx_set & 2)) {
		mon_pfx_str(f->family, &f->dst, tmp, sizeof(tmp));
		strlcat(buf, " dst ", size);
		strlcat(buf, tmp, size);
	}
	if (evpn_mon_filter_has_sport(f)) {
		mon_ports_str("sport", f->sport_lo, f->sport_hi, tmp,
			      sizeof(tmp));
		strlcat(buf, tmp, size);
	}
	if (evpn_mon_filter_has_dport(f)) {
		mon_ports_str("dport", f->dport_lo, f->dport_hi, tmp,
			      sizeof(tmp));
		strlcat(buf, tmp, size);
	}
}

/* The configuration lines of a profile, each prefixed with `indent`. */
static void mon_profile_write(struct vty *vty, const char *indent,
			      const struct mon_profile *p)
{
	const struct mon_profile_cfg *c = &p->cfg;
	const struct mon_profile_line *l;
	enum evpn_mon_preset preset;
	char buf[256];
	int n, u;

	vty_out(vty, "%smonitor profile %s\n", indent, p->name);
	if (c->direction != EVPN_MON_DIR_BOTH
	    && c->direction < array_size(mon_dir_names))
		vty_out(vty, "%smonitor profile %s direction %s\n", indent,
			p->name, mon_dir_names[c->direction]);
	for (n = 0; n < EVPN_MON_MAX_FILTERS; n++) {
		l = &c->line[n];
		preset = mon_line_preset(l);
		if (preset != EVPN_MON_PRESET_NONE) {
			vty_out(vty, "%smonitor profile %s filter %d preset %s\n",
				indent, p->name, n + 1,
				mon_preset_name(preset));
			continue;
		}
		if (l->tuple_set) {
			mon_line_tuple_str(n + 1, l, buf, sizeof(buf));
			vty_out(vty, "%smonitor profile %s %s\n", indent,
				p->name, buf);
		}
		for (u = 0; u < EVPN_MON_MAX_UDFS; u++) {
			const struct evpn_mon_udf *d = &l->f.udf[u];

			if (!(l->udf_set & (1u << u)))
				continue;
			vty_out(vty,
				"%smonitor profile %s filter %d udf %d %s offset %u value 0x%04x mask 0x%04x\n",
				indent, p->name, n + 1, u + 1,
				d->base < array_size(mon_base_names)
					? mon_base_names[d->base]
					: "l3",
				d->offset, d->value, d->mask);
		}
	}
	if (c->sample > 1)
		vty_out(vty, "%smonitor profile %s sample 1-in %u\n", indent,
			p->name, c->sample);
	if (c->truncate)
		vty_out(vty, "%smonitor profile %s truncate %u\n", indent,
			p->name, c->truncate);
	if (c->police_unit != EVPN_MON_POLICE_NONE)
		vty_out(vty, "%smonitor profile %s police %s %" PRIu64
			     " burst %u\n",
			indent, p->name,
			c->police_unit == EVPN_MON_POLICE_PPS ? "pps" : "bps",
			c->police_rate, c->police_burst);
}

static json_object *mon_profile_json(struct bgp *bgp,
				     const struct mon_profile *p)
{
	const struct mon_profile_cfg *c = &p->cfg;
	json_object *j = json_object_new_object();
	json_object *jfilters = json_object_new_array();
	json_object *jsessions = json_object_new_array();
	struct evpn_mon_options o;
	struct listnode *node;
	struct mon_host *h;
	char buf[INET6_ADDRSTRLEN + 8];
	int n, u;

	evpn_mon_profile_build(p->name, c, &o);
	json_object_string_add(j, "name", p->name);
	json_object_string_add(j, "direction",
			       c->direction < array_size(mon_dir_names)
				       ? mon_dir_names[c->direction]
				       : "unknown");
	for (n = 0; n < EVPN_MON_MAX_FILTERS; n++) {
		const struct mon_profile_line *l = &c->line[n];
		const struct evpn_mon_filter *f = &l->f;
		json_object *jf, *judfs;
		enum evpn_mon_preset preset;

		if (!l->tuple_set && !l->udf_set)
			continue;
		jf = json_object_new_object();
		judfs = json_object_new_array();
		json_object_int_add(jf, "line", n + 1);
		preset = mon_line_preset(l);
		if (preset != EVPN_MON_PRESET_NONE)
			json_object_string_add(jf, "preset",
					       mon_preset_name(preset));
		if (f->proto)
			json_object_int_add(jf, "protocol", f->proto);
		if (f->family)
			json_object_int_add(jf, "family", f->family);
		if (f->src.len) {
			mon_pfx_str(f->family, &f->src, buf, sizeof(buf));
			json_object_string_add(jf, "src", buf);
		}
		if (f->dst.len) {
			mon_pfx_str(f->family, &f->dst, buf, sizeof(buf));
			json_object_string_add(jf, "dst", buf);
		}
		if (evpn_mon_filter_has_sport(f)) {
			json_object_int_add(jf, "sportFrom", f->sport_lo);
			json_object_int_add(jf, "sportTo", f->sport_hi);
		}
		if (evpn_mon_filter_has_dport(f)) {
			json_object_int_add(jf, "dportFrom", f->dport_lo);
			json_object_int_add(jf, "dportTo", f->dport_hi);
		}
		for (u = 0; u < EVPN_MON_MAX_UDFS; u++) {
			const struct evpn_mon_udf *d = &f->udf[u];
			json_object *ju;

			if (!(l->udf_set & (1u << u)))
				continue;
			ju = json_object_new_object();
			json_object_int_add(ju, "udf", u + 1);
			json_object_string_add(
				ju, "base",
				d->base < array_size(mon_base_names)
					? mon_base_names[d->base]
					: "unknown");
			json_object_int_add(ju, "offset", d->offset);
			json_object_string_addf(ju, "value", "0x%04x",
						d->value);
			json_object_string_addf(ju, "mask", "0x%04x", d->mask);
			json_object_array_add(judfs, ju);
		}
		json_object_object_add(jf, "udfs", judfs);
		json_object_array_add(jfilters, jf);
	}
	json_object_object_add(j, "filters", jfilters);
	json_object_int_add(j, "sample", c->sample > 1 ? c->sample : 1);
	json_object_int_add(j, "truncate", c->truncate);
	if (c->police_unit != EVPN_MON_POLICE_NONE) {
		json_object *jp = json_object_new_object();

		json_object_string_add(jp, "unit",
				       c->police_unit == EVPN_MON_POLICE_PPS
					       ? "pps"
					       : "bps");
		json_object_int_add(jp, "rate", (int64_t)c->police_rate);
		json_object_int_add(jp, "burst", c->police_burst);
		json_object_object_add(j, "police", jp);
	}
	json_object_int_add(j, "optionsLength",
			    evpn_mon_options_encoded_len(&o));
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h))
		if (strcmp(h->profile, p->name) == 0)
			json_object_array_add(jsessions, mon_host_json(bgp, h));
	json_object_object_add(j, "sessions", jsessions);
	return j;
}

DEFPY(show_bgp_evpn_monitor_profile, show_bgp_evpn_monitor_profile_cmd,
      "show bgp l2vpn evpn monitor profile [WORD$name] [json$uj]",
      SHOW_STR BGP_STR L2VPN_HELP_STR EVPN_HELP_STR
      "evpn-monitor monitoring sessions\n"
      "Mirror profiles\n" "Profile name\n" JSON_STR)
{
	struct bgp *bgp = bgp_get_evpn();
	json_object *json = NULL, *jprofiles = NULL;
	struct listnode *node;
	struct mon_profile *p;
	struct evpn_mon_options o;
	unsigned int shown = 0;

	if (uj) {
		json = json_object_new_object();
		jprofiles = json_object_new_object();
	}
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.profiles, node, p)) {
		if (name && strcmp(name, p->name))
			continue;
		shown++;
		if (uj) {
			json_object_object_add(jprofiles, p->name,
					       mon_profile_json(bgp, p));
			continue;
		}
		evpn_mon_profile_build(p->name, &p->cfg, &o);
		vty_out(vty,
			"Profile %s: %u session(s), %zu octets of options\n",
			p->name, evpn_mon_profile_users(p->name),
			evpn_mon_options_encoded_len(&o));
		mon_profile_write(vty, "  ", p);
	}
	if (uj) {
		json_object_object_add(json, "profiles", jprofiles);
		vty_json(vty, json);
	} else if (name && !shown)
		vty_out(vty, "%% No monitor profile %s\n", name);
	else if (!shown)
		vty_out(vty, "No monitor profiles\n");
	return CMD_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* show                                                                */
/* ------------------------------------------------------------------ */

/* `show ... monitor json` is streamed: tens of thousands of sessions are
 * written one at a time, never held as one json-c tree and one string.
 * The text is laid out exactly as vty_json_no_pretty() (json-c with
 * NOSLASHESCAPE alone) would lay out the same tree: members in the order
 * the json-c version added them, no blank and no newline between them.
 * Compact, as FRR's own `show bgp l2vpn evpn route json` is for the same
 * reason: at 50,000 sessions the indentation alone is megabytes that
 * bgpd sends and vtysh copies. */
#define MON_JW_BUF 16384
#define MON_JW_DEPTH 8

/* Bytes written and not yet sent: a show sent in slices (below) keeps its
 * output here, not in the vty's buffer, and writes it to vtysh's socket
 * itself. One contiguous run: what is sent is start..end. */
struct mon_outbuf {
	char *data;
	size_t cap, start, end;
};

static void mon_outbuf_put(struct mon_outbuf *ob, const void *s, size_t n)
{
	if (ob->end + n > ob->cap) {
		memmove(ob->data, ob->data + ob->start, ob->end - ob->start);
		ob->end -= ob->start;
		ob->start = 0;
		while (ob->end + n > ob->cap)
			ob->cap *= 2;
		ob->data = XREALLOC(MTYPE_EVPN_MON_SHOW, ob->data, ob->cap);
	}
	memcpy(ob->data + ob->end, s, n);
	ob->end += n;
}

struct mon_jw {
	struct vty *vty;
	/* vtysh's connection: the text goes straight into the vty's output
	 * buffer (vty_out() would format each 16 KB once more, with
	 * printfrr, into a temporary copy) */
	bool direct;
	struct mon_outbuf *ob; /* a show in slices: the text goes here */
	int depth;                    /* open containers */
	bool members[MON_JW_DEPTH];   /* the container at depth i has some */
	size_t len;
	char buf[MON_JW_BUF];
};

static void mon_jw_init(struct mon_jw *w, struct vty *vty)
{
	w->vty = vty;
	/* what vty_out() would do for this vty: no filter, no pending
	 * frame, no CRLF translation */
	w->direct = vty->type == VTY_SHELL_SERV && !vty->filter
		    && !vty->frame_pos && vty->obuf;
}

static void jw_flush(struct mon_jw *w)
{
	if (!w->len)
		return;
	if (w->ob)
		mon_outbuf_put(w->ob, w->buf, w->len);
	else if (w->direct)
		buffer_put(w->vty->obuf, w->buf, w->len);
	else {
		w->buf[w->len] = '\0';
		vty_out(w->vty, "%s", w->buf);
	}
	w->len = 0;
}

static void jw_put(struct mon_jw *w, const char *s, size_t n)
{
	while (n) {
		size_t room = sizeof(w->buf) - 1 - w->len;
		size_t k = MIN(n, room);

		memcpy(w->buf + w->len, s, k);
		w->len += k;
		s += k;
		n -= k;
		if (w->len == sizeof(w->buf) - 1)
			jw_flush(w);
	}
}

/* Room for n more bytes (n well below MON_JW_BUF) at the end of the
 * buffer: the caller writes them there and adds n to w->len. One bounds
 * check per member instead of one per piece. */
static inline char *jw_room(struct mon_jw *w, size_t n)
{
	if (w->len + n > sizeof(w->buf) - 1)
		jw_flush(w);
	return w->buf + w->len;
}

/* Decimal digits of v into buf (no NUL); returns their number. The show
 * writes several numbers per session: printf's format parsing costs more
 * than the digits. */
static size_t mon_u64_str(uint64_t v, char *buf)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

/* inet_ntop(AF_INET) (which goes through sprintf); NUL-terminated,
 * returns the length. */
static size_t mon_ipv4_str(const uint8_t *a, char *buf)
{
	size_t n = 0;
	int i;

	for (i = 0; i < 4; i++) {
		if (i)
			buf[n++] = '.';
		n += mon_u64_str(a[i], buf + n);
	}
	buf[n] = '\0';
	return n;
}

static void jw_puts(struct mon_jw *w, const char *s)
{
	jw_put(w, s, strlen(s));
}

/* json-c's escaping of a string value (NOSLASHESCAPE) */
static void jw_str(struct mon_jw *w, const char *s)
{
	const char *run = s;
	char esc[8];
	size_t n;

	for (n = 0; s[n]; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == '"' || s[n] == '\\')
			break;
	if (!s[n] && n < 1024) {
		char *p = jw_room(w, n + 2);

		p[0] = '"';
		memcpy(p + 1, s, n);
		p[n + 1] = '"';
		w->len += n + 2;
		return;
	}
	jw_put(w, "\"", 1);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jw_put(w, run, s - run);
		run = s + 1;
		switch (c) {
		case '"':
			jw_puts(w, "\\\"");
			break;
		case '\\':
			jw_puts(w, "\\\\");
			break;
		case '\n':
			jw_puts(w, "\\n");
			break;
		case '\r':
			jw_puts(w, "\\r");
			break;
		case '\t':
			jw_puts(w, "\\t");
			break;
		case '\b':
			jw_puts(w, "\\b");
			break;
		case '\f':
			jw_puts(w, "\\f");
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			jw_puts(w, esc);
			break;
		}
	}
	jw_put(w, run, s - run);
	jw_put(w, "\"", 1);
}

/* Before a member of the innermost container: the separator. */
static void jw_member(struct mon_jw *w)
{
	if (w->members[w->depth - 1]) {
		*jw_room(w, 1) = ',';
		w->len++;
	}
	w->members[w->depth - 1] = true;
}

/* Keys are this file's literals and the codec's error names: nothing in
 * them needs escaping. */
static void jw_key(struct mon_jw *w, const char *key)
{
	size_t n = strlen(key);
	char *p;

	jw_member(w);
	p = jw_room(w, n + 3);
	p[0] = '"';
	memcpy(p + 1, key, n);
	p[n + 1] = '"';
	p[n + 2] = ':';
	w->len += n + 3;
}

static void jw_open(struct mon_jw *w, char c)
{
	jw_put(w, &c, 1);
	assert(w->depth < MON_JW_DEPTH);
	w->members[w->depth++] = false;
}

static void jw_close(struct mon_jw *w, char c)
{
	w->depth--;
	jw_put(w, &c, 1);
}

static void jw_kstr(struct mon_jw *w, const char *key, const char *val)
{
	jw_key(w, key);
	jw_str(w, val);
}

/* A string member whose value this file made from a closed alphabet
 * (addresses, MACs, RDs, session IDs, state and reason words): nothing in
 * it needs escaping. Names that came from configuration or from the wire
 * go through jw_kstr(). */
static void jw_ktext(struct mon_jw *w, const char *key, const char *val)
{
	size_t n = strlen(val);
	char *p;

	jw_key(w, key);
	if (n >= 1024) {
		jw_str(w, val);
		return;
	}
	p = jw_room(w, n + 2);
	p[0] = '"';
	memcpy(p + 1, val, n);
	p[n + 1] = '"';
	w->len += n + 2;
}

static void jw_kint(struct mon_jw *w, const char *key, int64_t val)
{
	char buf[24];
	size_t n = 0;

	jw_key(w, key);
	if (val < 0)
		buf[n++] = '-';
	n += mon_u64_str(val < 0 ? -(uint64_t)val : (uint64_t)val, buf + n);
	jw_put(w, buf, n);
}

/* A json-c value as a member, printed by json-c. Frees j. */
static void jw_kjson(struct mon_jw *w, const char *key, json_object *j)
{
	jw_key(w, key);
	jw_puts(w, json_object_to_json_string_ext(
			   j, JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_free(j);
}

/* The VNI tables into which each monitor route is imported (its best path
 * there): prefix -> VNIs, ascending. Read from each VNI table's monitor
 * routes once, instead of one lookup per route and VNI, then brought up to
 * date from the changes the feed journals (mon_imp_update), so that a show
 * reads it as it is at each of its slices. The prefixes are those of the
 * VNI tables' nodes: the table locks those nodes, and their tables, for as
 * long as it holds them (routes and VNIs may go meanwhile).
 *
 * It outlives the shows (mon_imps_held): at 50,000 sessions reading the
 * VNI tables whole (and getting the memory for it) is about 40 % of a
 * show's time in bgpd and most of its first slice, and shows come in
 * series (an operator's, a script's). It is kept MON_IMPS_KEEP_MS after
 * the last show ended, read whole again when the journal no longer goes
 * back to it, and let go at once on a VNI event (a VNI's table is not
 * held past its VNI) or when the instance goes. A show that begins with it
 * first checks that its VNI tables are still those of the instance's VNIs
 * (one not live comes and goes without a VNI event).
 *
 * An open-addressing table in one allocation, with each prefix's hash kept
 * in its slot: at 50,000 sessions, a bucket allocation per route and a
 * comparison that reads the VNI table's node cost more than the lookups.
 * Linear probing; a prefix no VNI holds any more leaves, the slots after
 * it moving back (a table kept for long would fill with tombstones). */
#define MON_IMP_INLINE 4
#define MON_IMPS_KEEP_MS 30000

struct mon_imp {
	const struct prefix_evpn *p; /* NULL: a free slot */
	struct bgp_dest *dest;       /* p's node */
	uint32_t hash;
	unsigned int n; /* at least 1 */
	vni_t vni[MON_IMP_INLINE];
	vni_t *more; /* vni[MON_IMP_INLINE..n-1] when n > MON_IMP_INLINE */
};

/* A VNI table the imports table holds (locked), and its VNI. */
struct mon_imp_table {
	struct bgp_table *table;
	vni_t vni;
};

struct mon_imps {
	struct mon_imp *slot; /* NULL: not read */
	uint32_t mask; /* slots - 1; a power of two, at most half full */
	uint32_t count;
	struct mon_imp_table *tables; /* ascending (by the table's address) */
	unsigned int ntables;
};

static uint32_t mon_imp_hash(const struct prefix_evpn *p)
{
	return jhash(&p->prefix, sizeof(p->prefix), 0x6d6f6e69);
}

static struct mon_imp *mon_imp_slot(const struct mon_imps *t,
				    const struct prefix_evpn *p, uint32_t hash)
{
	uint32_t i = hash & t->mask;

	for (;; i = (i + 1) & t->mask) {
		struct mon_imp *e = &t->slot[i];

		if (!e->p || (e->hash == hash
			      && !memcmp(&e->p->prefix, &p->prefix,
					 sizeof(p->prefix))))
			return e;
	}
}

static void mon_imp_grow(struct mon_imps *t)
{
	struct mon_imp *old = t->slot;
	uint32_t i, n = t->mask + 1;

	t->mask = 2 * n - 1;
	t->slot = XCALLOC(MTYPE_EVPN_MON_IMPORTS, 2 * n * sizeof(*t->slot));
	for (i = 0; i < n; i++)
		if (old[i].p)
			*mon_imp_slot(t, old[i].p, old[i].hash) = old[i];
	XFREE(MTYPE_EVPN_MON_IMPORTS, old);
}

static vni_t mon_imp_vni(const struct mon_imp *e, unsigned int i)
{
	return i < MON_IMP_INLINE ? e->vni[i] : e->more[i - MON_IMP_INLINE];
}

static vni_t *mon_imp_vni_at(struct mon_imp *e, unsigned int i)
{
	return i < MON_IMP_INLINE ? &e->vni[i] : &e->more[i - MON_IMP_INLINE];
}

/* The VNIs of a route are kept ascending: a table read whole and one
 * brought up to date change by change list them alike. */
static void mon_imp_vni_add(struct mon_imp *e, vni_t vni)
{
	unsigned int i, j;

	for (i = 0; i < e->n && mon_imp_vni(e, i) <= vni; i++)
		if (mon_imp_vni(e, i) == vni)
			return;
	if (e->n >= MON_IMP_INLINE)
		e->more = XREALLOC(MTYPE_EVPN_MON_IMPORTS, e->more,
				   (e->n + 1 - MON_IMP_INLINE)
					   * sizeof(*e->more));
	for (j = e->n; j > i; j--)
		*mon_imp_vni_at(e, j) = mon_imp_vni(e, j - 1);
	*mon_imp_vni_at(e, i) = vni;
	e->n++;
}

static void mon_imp_vni_del(struct mon_imp *e, vni_t vni)
{
	unsigned int i;

	for (i = 0; i < e->n && mon_imp_vni(e, i) != vni; i++)
		;
	if (i == e->n)
		return;
	for (; i + 1 < e->n; i++)
		*mon_imp_vni_at(e, i) = mon_imp_vni(e, i + 1);
	e->n--;
}

/* p's slot, taken for it if it is new (with no VNI yet: the caller adds
 * one); dest is p's node in a VNI table. */
static struct mon_imp *mon_imp_get(struct mon_imps *t,
				   const struct prefix_evpn *p,
				   struct bgp_dest *dest)
{
	uint32_t hash = mon_imp_hash(p);
	struct mon_imp *e = mon_imp_slot(t, p, hash);

	if (e->p)
		return e;
	if (2 * (t->count + 1) > t->mask + 1) {
		mon_imp_grow(t);
		e = mon_imp_slot(t, p, hash);
	}
	e->p = p;
	e->dest = dest;
	e->hash = hash;
	t->count++;
	bgp_dest_lock_node(dest);
	return e;
}

/* e's prefix is in no VNI table any more: its slot is freed, and each
 * slot after it in the probe run moves back into the gap unless its own
 * hash places it after the gap. */
static void mon_imp_remove(struct mon_imps *t, struct mon_imp *e)
{
	uint32_t i = e - t->slot, j, home;

	XFREE(MTYPE_EVPN_MON_IMPORTS, e->more);
	bgp_dest_unlock_node(e->dest);
	for (j = (i + 1) & t->mask; t->slot[j].p; j = (j + 1) & t->mask) {
		home = t->slot[j].hash & t->mask;
		if (((j - home) & t->mask) < ((j - i) & t->mask))
			continue; /* its home lies in (i, j] */
		t->slot[i] = t->slot[j];
		i = j;
	}
	memset(&t->slot[i], 0, sizeof(t->slot[i]));
	t->count--;
}

static struct bgp_path_info *mon_imp_best(struct bgp_dest *dest)
{
	struct bgp_path_info *pi;

	for (pi = bgp_dest_get_bgp_path_info(dest); pi; pi = pi->next)
		if (CHECK_FLAG(pi->flags, BGP_PATH_SELECTED))
			break;
	return pi;
}

static void mon_imp_add_vni(struct hash_bucket *bucket, void *arg)
{
	struct bgpevpn *vpn = bucket->data;
	struct mon_imps *t = arg;
	struct bgp_dest *dest;

	if (vpn->route_table) {
		t->tables = XREALLOC(MTYPE_EVPN_MON_IMPORTS, t->tables,
				     (t->ntables + 1) * sizeof(*t->tables));
		t->tables[t->ntables].table = vpn->route_table;
		t->tables[t->ntables++].vni = vpn->vni;
		bgp_table_lock(vpn->route_table);
	}
	for (dest = evpn_mon_table_first(vpn->route_table); dest;
	     dest = evpn_mon_table_next(dest)) {
		if (!mon_imp_best(dest))
			continue;
		mon_imp_vni_add(mon_imp_get(t,
					    (const struct prefix_evpn *)
						    bgp_dest_get_prefix(dest),
					    dest),
				vpn->vni);
	}
}

static int mon_imp_table_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct mon_imp_table *)a)->table;
	uintptr_t y = (uintptr_t)((const struct mon_imp_table *)b)->table;

	return x < y ? -1 : x > y;
}

static void mon_imp_build(struct mon_imps *t, struct bgp *bgp)
{
	/* sized for the sessions the feed holds, which is about how many
	 * the VNI tables hold */
	uint32_t want = 2 * MAX(evpn_mon_feed_count(), 512u), n = 1024;

	while (n < want && n < (1u << 30))
		n <<= 1;
	t->mask = n - 1;
	t->count = 0;
	t->tables = NULL;
	t->ntables = 0;
	t->slot = XCALLOC(MTYPE_EVPN_MON_IMPORTS, n * sizeof(*t->slot));
	hash_iterate(bgp->vnihash, mon_imp_add_vni, t);
	if (t->ntables)
		qsort(t->tables, t->ntables, sizeof(*t->tables),
		      mon_imp_table_cmp);
}

/* Reads (vni, p) again: is p's best path in the VNI's table? False when
 * the table is not one this table holds (a VNI new since it was read: it
 * is read whole again). */
static bool mon_imp_update(struct mon_imps *t, struct bgp *bgp, vni_t vni,
			   const struct prefix_evpn *p)
{
	struct bgpevpn *vpn = bgp_evpn_lookup_vni(bgp, vni);
	struct bgp_table *table = vpn ? vpn->route_table : NULL;
	struct mon_imp_table key = {.table = table};
	struct bgp_dest *dest = NULL;
	struct mon_imp *e;

	if (table
	    && (!t->ntables
		|| !bsearch(&key, t->tables, t->ntables, sizeof(*t->tables),
			    mon_imp_table_cmp)))
		return false;
	if (table)
		dest = bgp_node_lookup(table, (const struct prefix *)p);
	if (dest && mon_imp_best(dest)) {
		e = mon_imp_get(t,
				(const struct prefix_evpn *)bgp_dest_get_prefix(
					dest),
				dest);
		mon_imp_vni_add(e, vni);
	} else {
		e = mon_imp_slot(t, p, mon_imp_hash(p));
		if (e->p) {
			mon_imp_vni_del(e, vni);
			if (!e->n)
				mon_imp_remove(t, e);
		}
	}
	if (dest)
		bgp_dest_unlock_node(dest);
	return true;
}

static void mon_imp_destroy(struct mon_imps *t)
{
	uint32_t i;

	for (i = 0; i <= t->mask; i++) {
		if (!t->slot[i].p)
			continue;
		XFREE(MTYPE_EVPN_MON_IMPORTS, t->slot[i].more);
		/* the nodes before their tables: the last table lock frees
		 * the nodes */
		bgp_dest_unlock_node(t->slot[i].dest);
	}
	XFREE(MTYPE_EVPN_MON_IMPORTS, t->slot);
	for (i = 0; i < t->ntables; i++)
		bgp_table_unlock(t->tables[i].table);
	XFREE(MTYPE_EVPN_MON_IMPORTS, t->tables);
	t->ntables = 0;
}

/* Are the VNI tables it holds still those of bgp's VNIs, all of them? A
 * VNI that is not live is deleted without a VNI event, and one configured
 * comes without one. */
static bool mon_imp_vnis_current(const struct mon_imps *t, struct bgp *bgp)
{
	struct bgpevpn *vpn;
	unsigned int i;

	if (t->ntables != hashcount(bgp->vnihash))
		return false;
	for (i = 0; i < t->ntables; i++) {
		vpn = bgp_evpn_lookup_vni(bgp, t->tables[i].vni);
		if (!vpn || vpn->route_table != t->tables[i].table)
			return false;
	}
	return true;
}

/* A route's lookups ahead of the walk: each is a chain of dependent cache
 * misses in tables of the show's size (its slot here, then the VNI table's
 * node the slot points to; the feed's slot, bucket and session), and each
 * step is asked for one route ahead, once the step before it has come
 * (mon_show_routes). */
struct mon_ahead {
	bool set;
	uint32_t imp_hash, pub_hash;
};

static struct mon_ahead mon_imp_ahead(const struct mon_imps *t,
				      const struct prefix_evpn *p)
{
	struct mon_ahead a = {.set = true, .imp_hash = mon_imp_hash(p)};
	struct evpn_mon_key key;

	__builtin_prefetch(&t->slot[a.imp_hash & t->mask]);
	/* its decision is looked up in the first importing VNI: nearly
	 * always the session's own */
	memcpy(&key, p->prefix.ext_addr.val, sizeof(key));
	a.pub_hash = evpn_mon_feed_prefetch(key.vni, p);
	return a;
}

/* The second step: the slots have come. */
static void mon_imp_ahead_more(const struct mon_imps *t,
			       const struct mon_ahead *a)
{
	const struct mon_imp *e = &t->slot[a->imp_hash & t->mask];

	if (e->p)
		__builtin_prefetch(e->p);
	evpn_mon_feed_prefetch_bucket(a->pub_hash);
}

static const struct mon_imp *mon_imp_find(const struct mon_imps *t,
					  const struct prefix_evpn *p,
					  uint32_t hash)
{
	const struct mon_imp *e = mon_imp_slot(t, p, hash);

	return e->p ? e : NULL;
}

/* The table kept between shows. The feed's change journal is held with
 * it: the changes since it was last brought up to date. */
static struct {
	struct mon_imps t;
	struct bgp *bgp;     /* whose VNI tables it holds */
	unsigned long gen;   /* the evpn_mon_feed_generation() it matches */
	unsigned int users;  /* shows walking the routes */
	struct thread *t_keep; /* MON_IMPS_KEEP_MS after the last show */
	struct thread *t_gone; /* a VNI event */
} mon_imps_held;

static void mon_imps_drop(void)
{
	THREAD_OFF(mon_imps_held.t_keep);
	THREAD_OFF(mon_imps_held.t_gone);
	if (!mon_imps_held.t.slot)
		return;
	mon_imp_destroy(&mon_imps_held.t); /* sets slot to NULL */
	mon_imps_held.bgp = NULL;
	evpn_mon_feed_journal_release();
}

static void mon_imps_drop_event(struct thread *t)
{
	mon_imps_drop();
}

/* The table of bgp's VNIs as they are now: the kept one brought up to
 * date change by change from the journal (a cost that grows with the
 * changes, not with the sessions), or read whole when none is kept, when
 * the journal does not go back that far (more changes than it keeps, a
 * VNI event) or when a change is in a VNI the table does not hold. */
static const struct mon_imps *mon_imps_get(struct bgp *bgp)
{
	struct mon_imps *t = &mon_imps_held.t;
	unsigned long gen = mon_imps_held.gen, now = evpn_mon_feed_generation();
	const struct evpn_mon_change *c;

	if (t->slot && mon_imps_held.bgp == bgp) {
		for (; gen < now; gen++) {
			c = evpn_mon_feed_change(gen + 1);
			if (!c || !mon_imp_update(t, bgp, c->vni, &c->p))
				break;
		}
		mon_imps_held.gen = now;
		if (gen == now)
			return t;
		evpn_mon_feed_journal_reread();
	}
	if (t->slot)
		mon_imp_destroy(t);
	else
		evpn_mon_feed_journal_hold();
	mon_imps_held.gen = now;
	mon_imps_held.bgp = bgp;
	mon_imp_build(t, bgp);
	return t;
}

/* A show begins or ends its walk of the routes: the table is kept while
 * some show walks them, and MON_IMPS_KEEP_MS after the last one. A show
 * begins with a table of bgp's VNIs, all of them (the others' changes go
 * through the journal). */
static void mon_imps_use(struct bgp *bgp)
{
	mon_imps_held.users++;
	THREAD_OFF(mon_imps_held.t_keep);
	if (mon_imps_held.t.slot
	    && (mon_imps_held.bgp != bgp
		|| !mon_imp_vnis_current(&mon_imps_held.t, bgp)))
		mon_imps_drop();
}

static void mon_imps_unuse(void)
{
	assert(mon_imps_held.users);
	if (--mon_imps_held.users || !mon_imps_held.t.slot)
		return;
	thread_add_timer_msec(bm->master, mon_imps_drop_event, NULL,
			      MON_IMPS_KEEP_MS, &mon_imps_held.t_keep);
}

/* "%pEA" without printfrr's format parsing: this runs twice per session
 * of a show. */
static void mon_mac_str(const uint8_t *m, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 6; i++) {
		buf[3 * i] = hex[m[i] >> 4];
		buf[3 * i + 1] = hex[m[i] & 0xf];
		buf[3 * i + 2] = i < 5 ? ':' : '\0';
	}
}

static void mon_ip_str(const struct evpn_mon_ip *ip, char *buf, size_t size)
{
	if (ip->len == 4)
		mon_ipv4_str(ip->addr, buf);
	else if (ip->len == 16)
		inet_ntop(AF_INET6, ip->addr, buf, size);
	else
		strlcpy(buf, "none", size);
}

/* The table's form: an address that is not IPv4 is IPv6. */
static void mon_ip46_str(const struct evpn_mon_ip *ip, char *buf, size_t size)
{
	if (ip->len == 4)
		mon_ipv4_str(ip->addr, buf);
	else
		inet_ntop(AF_INET6, ip->addr, buf, size);
}

/* This VTEP's import decision on the session in one VNI (NULL: the feed
 * does not hold it yet). */
static const struct mon_sess *mon_decision(vni_t vni,
					   const struct prefix_evpn *p)
{
	return evpn_mon_feed_lookup(vni, p);
}

/* One session as an element of "sessions": the keys and order of
 * evpn_mon_route2json(r, true), after origin and rd, then importedInto and
 * the import decisions. */
static void mon_route_jw(struct mon_jw *w, const struct evpn_mon_route *r,
			 bool local, const char *rd, const struct mon_imp *imp,
			 const struct prefix_evpn *p)
{
	const struct mon_sess *first = NULL;
	char why[128], first_why[128];
	char buf[INET6_ADDRSTRLEN + 8], sid[EVPN_MON_SESSION_ID_MAX];
	unsigned int i;

	jw_member(w);
	jw_open(w, '{');
	jw_ktext(w, "origin", local ? "local" : "remote");
	jw_ktext(w, "rd", rd);
	jw_kint(w, "ethTag", r->eth_tag);
	jw_kint(w, "vni", r->vni);
	if (r->dest == EVPN_MON_DEST_COLLECTOR) {
		jw_ktext(w, "destination", "collector");
		jw_kint(w, "collectorId", r->host_id);
	} else {
		jw_ktext(w, "destination", "server");
		jw_kint(w, "hostId", r->host_id);
	}
	if (r->host_mac_len) {
		mon_mac_str(r->host_mac, buf);
		jw_ktext(w, "hostMac", buf);
	}
	if (r->host_ip.len) {
		mon_ip_str(&r->host_ip, buf, sizeof(buf));
		jw_ktext(w, "hostIp", buf);
	}
	if (r->dest == EVPN_MON_DEST_COLLECTOR) {
		mon_ip_str(&r->server_ip, buf, sizeof(buf));
		jw_ktext(w, "collectorIp", buf);
	} else {
		mon_mac_str(r->server_mac, buf);
		jw_ktext(w, "serverMac", buf);
		if (r->server_ip.len) {
			mon_ip_str(&r->server_ip, buf, sizeof(buf));
			jw_ktext(w, "serverIp", buf);
		}
	}
	mon_ipv4_str(r->orig_ip, buf);
	jw_ktext(w, "originatorIp", buf);
	evpn_mon_session_id(r, sid, sizeof(sid));
	jw_ktext(w, "sessionId", sid);
	if (r->opts.present) {
		if (r->opts.name[0])
			jw_kstr(w, "profile", r->opts.name);
		jw_kjson(w, "options", evpn_mon_options2json(&r->opts));
	}
	jw_key(w, "importedInto");
	jw_open(w, '[');
	for (i = 0; imp && i < imp->n; i++) {
		jw_member(w);
		jw_put(w, buf, mon_u64_str(mon_imp_vni(imp, i), buf));
	}
	jw_close(w, ']');
	/* the decision per VNI it is held in; the first one's at the top
	 * (a session is nearly always in one VNI) */
	jw_key(w, "import");
	jw_open(w, '[');
	for (i = 0; imp && i < imp->n; i++) {
		const struct mon_sess *s = mon_decision(mon_imp_vni(imp, i), p);

		if (!s)
			continue;
		evpn_mon_import_reason(s, why, sizeof(why));
		if (!first) {
			first = s;
			strlcpy(first_why, why, sizeof(first_why));
		}
		jw_member(w);
		jw_open(w, '{');
		jw_kint(w, "vni", s->vni);
		jw_ktext(w, "state", evpn_mon_import_state_name(s->imp.state));
		jw_ktext(w, "reason", why);
		jw_close(w, '}');
	}
	jw_close(w, ']');
	if (first) {
		jw_ktext(w, "importState",
			evpn_mon_import_state_name(first->imp.state));
		jw_ktext(w, "importReason", first_why);
	}
	jw_close(w, '}');
}

/* A column of the table: s, then blanks up to width (printf's "%-*s"), then
 * the blank between columns. */
static void jw_col(struct mon_jw *w, const char *s, size_t len, size_t width)
{
	static const char spaces[] = "                                        ";

	jw_put(w, s, len);
	if (len < width)
		jw_put(w, spaces, MIN(width - len, sizeof(spaces) - 1));
	jw_put(w, " ", 1);
}

/* Appends s[0..n) to buf (of size bytes, NUL-terminated, *len used) as far
 * as it fits, as snprintf(buf + *len, size - *len, ...) would. */
static void mon_str_add(char *buf, size_t size, size_t *len, const char *s,
			size_t n)
{
	size_t k = MIN(n, size - 1 - *len);

	memcpy(buf + *len, s, k);
	*len += k;
	buf[*len] = '\0';
}

/* One session: a member of "sessions" (uj), or a line of the table. The
 * line's layout is "%-7s %-15s %-21s %-8u %-38s %-5s %-38s %-18s %s\n"
 * (no field can make it longer than its former 511-byte buffer). */
static void mon_show_route(struct mon_jw *w, bool uj, struct bgp *bgp,
			   const struct mon_imp *imp,
			   const struct prefix_evpn *p,
			   const struct prefix_rd *prd, const char *rdbuf,
			   struct bgp_path_info *pi)
{
	struct evpn_mon_route r;
	char imported[128] = "";
	char decision[160] = "-";
	const struct mon_sess *held;
	char host[80], server[80], ipb[INET6_ADDRSTRLEN], num[24];
	bool local = (pi->peer == bgp->peer_self);
	unsigned int i;
	size_t len, hlen, slen;

	evpn_mon_route_from_path(&r, p, prd, pi->attr);
	if (uj) {
		mon_route_jw(w, &r, local, rdbuf, imp, p);
		return;
	}
	held = imp && imp->n ? mon_decision(mon_imp_vni(imp, 0), p) : NULL;
	if (held) {
		const char *state = evpn_mon_import_state_name(held->imp.state);
		char why[128];

		evpn_mon_import_reason(held, why, sizeof(why));
		len = 0;
		mon_str_add(decision, sizeof(decision), &len, state,
			    strlen(state));
		mon_str_add(decision, sizeof(decision), &len, " (", 2);
		mon_str_add(decision, sizeof(decision), &len, why, strlen(why));
		mon_str_add(decision, sizeof(decision), &len, ")", 1);
	}
	/* as much of the list as fits */
	len = 0;
	for (i = 0; imp && i < imp->n; i++) {
		if (len)
			mon_str_add(imported, sizeof(imported), &len, ",", 1);
		mon_str_add(imported, sizeof(imported), &len, num,
			    mon_u64_str(mon_imp_vni(imp, i), num));
	}

	hlen = 0;
	host[0] = '\0';
	if (r.host_mac_len) {
		mon_mac_str(r.host_mac, host);
		hlen = 17;
	}
	if (r.host_ip.len) {
		if (r.host_mac_len)
			host[hlen++] = '/';
		mon_ip46_str(&r.host_ip, host + hlen, sizeof(host) - hlen);
		hlen += strlen(host + hlen);
	}
	if (r.dest == EVPN_MON_DEST_COLLECTOR) {
		/* "ERSPAN3 10.9.0.1 span 7" */
		slen = 0;
		mon_str_add(server, sizeof(server), &slen, "ERSPAN", 6);
		mon_str_add(server, sizeof(server), &slen, num,
			    mon_u64_str(r.opts.erspan.version, num));
		mon_str_add(server, sizeof(server), &slen, " ", 1);
		if (r.server_ip.len) {
			mon_ip46_str(&r.server_ip, ipb, sizeof(ipb));
			mon_str_add(server, sizeof(server), &slen, ipb,
				    strlen(ipb));
		} else
			mon_str_add(server, sizeof(server), &slen, "-", 1);
		mon_str_add(server, sizeof(server), &slen, " span ", 6);
		mon_str_add(server, sizeof(server), &slen, num,
			    mon_u64_str(r.opts.erspan.span_id, num));
	} else {
		mon_mac_str(r.server_mac, server);
		slen = 17;
		if (r.server_ip.len) {
			server[slen++] = '/';
			mon_ip46_str(&r.server_ip, server + slen,
				     sizeof(server) - slen);
			slen += strlen(server + slen);
		}
	}

	if (local)
		jw_col(w, "local", 5, 7);
	else
		jw_col(w, "remote", 6, 7);
	jw_col(w, ipb, mon_ipv4_str(r.orig_ip, ipb), 15);
	jw_col(w, rdbuf, strlen(rdbuf), 21);
	jw_col(w, num, mon_u64_str(r.vni, num), 8);
	jw_col(w, host, hlen, 38);
	len = 0;
	if (r.dest == EVPN_MON_DEST_COLLECTOR)
		num[len++] = 'c';
	len += mon_u64_str(r.host_id, num + len);
	jw_col(w, num, len, 5);
	jw_col(w, server, slen, 38);
	if (imported[0])
		jw_col(w, imported, strlen(imported), 18);
	else
		jw_col(w, "-", 1, 18);
	jw_puts(w, decision);
	jw_put(w, "\n", 1);
}

/* One configured session as an element of "configured": the keys and
 * order of mon_host_json(). */
static void mon_host_jw(struct mon_jw *w, struct bgp *bgp,
			const struct mon_host *h)
{
	char buf[INET6_ADDRSTRLEN + 8];

	jw_member(w);
	jw_open(w, '{');
	jw_kint(w, "vni", h->vni);
	if (h->has_mac) {
		mon_mac_str(h->mac.octet, buf);
		jw_ktext(w, "hostMac", buf);
	}
	if (IS_IPADDR_V4(&h->ip)) {
		mon_ipv4_str((const uint8_t *)&h->ip.ipaddr_v4, buf);
		jw_ktext(w, "hostIp", buf);
	} else if (!IS_IPADDR_NONE(&h->ip)) {
		snprintfrr(buf, sizeof(buf), "%pIA", &h->ip);
		jw_ktext(w, "hostIp", buf);
	}
	if (h->dest == EVPN_MON_DEST_COLLECTOR) {
		jw_ktext(w, "destination", "collector");
		jw_kint(w, "collectorId", h->host_id);
	} else {
		jw_ktext(w, "destination", "server");
		jw_kint(w, "hostId", h->host_id);
	}
	if (h->profile[0])
		jw_kstr(w, "profile", h->profile);
	if (h->originated) {
		struct evpn_mon_route r;
		char sid[EVPN_MON_SESSION_ID_MAX];

		evpn_mon_route_from_path(&r, &h->adv_p, NULL, NULL);
		evpn_mon_session_id(&r, sid, sizeof(sid));
		jw_ktext(w, "sessionId", sid);
	}
	jw_ktext(w, "state", evpn_mon_host_state(bgp, h));
	jw_close(w, '}');
}

/* One configured session as a line:
 * "  vni %u host %s %s %s %u%s%s: %s\n" (MAC or "-", IP or "-", kind, id,
 * " profile NAME" if any, state). */
static void mon_host_line(struct mon_jw *w, struct bgp *bgp,
			  const struct mon_host *h)
{
	char buf[INET6_ADDRSTRLEN + 8];

	jw_put(w, "  vni ", 6);
	jw_put(w, buf, mon_u64_str(h->vni, buf));
	jw_put(w, " host ", 6);
	if (h->has_mac) {
		mon_mac_str(h->mac.octet, buf);
		jw_put(w, buf, 17);
	} else
		jw_put(w, "-", 1);
	jw_put(w, " ", 1);
	if (IS_IPADDR_V4(&h->ip))
		jw_put(w, buf,
		       mon_ipv4_str((const uint8_t *)&h->ip.ipaddr_v4, buf));
	else if (IS_IPADDR_V6(&h->ip)) {
		inet_ntop(AF_INET6, &h->ip.ipaddr_v6, buf, sizeof(buf));
		jw_puts(w, buf);
	} else
		jw_put(w, "-", 1);
	if (h->dest == EVPN_MON_DEST_COLLECTOR)
		jw_put(w, " collector ", 11);
	else
		jw_put(w, " server ", 8);
	jw_put(w, buf, mon_u64_str(h->host_id, buf));
	if (h->profile[0]) {
		jw_put(w, " profile ", 9);
		jw_puts(w, h->profile);
	}
	jw_put(w, ": ", 2);
	jw_puts(w, evpn_mon_host_state(bgp, h));
	jw_put(w, "\n", 1);
}

/* Malformed NLRI per reason, keyed by the codec's stable names. Every
 * reason is present, zero or not, so that the keys do not depend on what
 * was received; their sum is rxMalformed. */
static void mon_counters_jw(struct mon_jw *w)
{
	const struct evpn_mon_stats *st = &evpn_mon.stats;
	enum evpn_mon_error err;

	jw_key(w, "counters");
	jw_open(w, '{');
	jw_kint(w, "rxRoutes", st->rx_routes);
	jw_kint(w, "rxWithdraws", st->rx_withdraws);
	jw_kint(w, "rxMalformed", st->rx_malformed);
	jw_key(w, "rxMalformedByReason");
	jw_open(w, '{');
	for (err = EVPN_MON_OK + 1; err < EVPN_MON_ERR__MAX; err++)
		jw_kint(w, evpn_mon_errname(err), st->rx_malformed_by[err]);
	jw_close(w, '}');
	jw_kint(w, "txEncodeErrors", st->tx_encode_errors);
	jw_close(w, '}');
}

/* Text form: the totals, then the reasons seen so far (non-zero only). */
static void mon_counters_text(struct mon_jw *w)
{
	const struct evpn_mon_stats *st = &evpn_mon.stats;
	enum evpn_mon_error err;
	char line[256];

	snprintf(line, sizeof(line),
		 "\nCounters: %" PRIu64 " routes, %" PRIu64
		 " withdrawals, %" PRIu64 " malformed NLRI received; %" PRIu64
		 " encode errors\n",
		 st->rx_routes, st->rx_withdraws, st->rx_malformed,
		 st->tx_encode_errors);
	jw_puts(w, line);
	if (!st->rx_malformed)
		return;
	jw_puts(w, "Malformed NLRI by reason:\n");
	for (err = EVPN_MON_OK + 1; err < EVPN_MON_ERR__MAX; err++)
		if (st->rx_malformed_by[err]) {
			snprintf(line, sizeof(line), "  %-20s %10" PRIu64 "  %s\n",
				 evpn_mon_errname(err),
				 st->rx_malformed_by[err],
				 evpn_mon_strerror(err));
			jw_puts(w, line);
		}
}

/* One `show bgp l2vpn evpn monitor [json]` in progress.
 *
 * For vtysh (the operator's and every script's way in) the show is sent in
 * slices: it writes about MON_SHOW_SLICE bytes, returns to bgpd's event
 * loop, and writes the next slice while vtysh reads the last one from the
 * socket, with one slice at most waiting in bgpd (MON_SHOW_SLICE bytes,
 * the session that crosses the bound and, at the end, the output's last
 * lines and the result code; the socket's own buffer is outside bgpd). So
 * the show holds bgpd's main thread for one slice at a time, whatever the
 * number of sessions, and needs memory for one slice, not for the whole
 * output (tens of MB at 50,000 sessions, which bgpd would first have to
 * get from the system). The command returns CMD_SUSPEND, as watchfrr's
 * "write integrated" does: vtysh_read() then sends no result, and the
 * show writes the output and the result code to a duplicate of vtysh's
 * socket itself (a duplicate, so that it holds no vty pointer: the vty
 * may be closed meanwhile; the show then sees the write fail and stops).
 *
 * Between slices the RIB and the configuration may change. The walk's
 * position is held the way bgpd's own table walks hold it: the nodes and
 * tables it stands on are locked, so they stay in place even when their
 * routes go; the configured hosts are walked with an
 * evpn_mon_host_walk, which a removal moves on; the table of which VNIs
 * import each route is brought up to date from the feed's change journal
 * at the start of each slice (mon_imps_get). A slice
 * also ends after MON_SHOW_SLICE_US, whatever it has written. A session
 * is written as it is when the walk reaches it; each is written at most
 * once. A deleted instance is let go at once (evpn_mon_vty_bgp_delete).
 *
 * Like watchfrr's suspended command, this relies on vtysh's protocol: the
 * client sends its next command only after the result of the last one.
 *
 * Any other vty (a terminal session, a file) gets the show in one go,
 * through vty_out(), as before. */
#define MON_SHOW_SLICE (256 * 1024)
#define MON_SHOW_SLICE_US 20000

enum mon_show_phase {
	MON_SHOW_ROUTES,
	MON_SHOW_CONFIGURED,
	MON_SHOW_DONE,
};

struct mon_show {
	struct mon_jw w;
	bool uj;
	enum mon_show_phase phase;
	struct bgp *bgp; /* locked; NULL: no EVPN instance (or gone) */
	/* while the routes are walked: which VNIs import each route, as of
	 * this slice (the kept table, mon_imps_held) */
	bool imps_used;
	const struct mon_imps *imps;
	struct timeval slice_start;
	unsigned int slice_items; /* routes and hosts walked in this slice */

	/* The routes' walk: the RD's node in the global table and, in the
	 * RD's own table, the next route to write. Each is locked, as is
	 * each table, while the show holds it. */
	struct bgp_table *rd_top;
	struct bgp_dest *rd_dest;
	struct bgp_table *rd_table;
	struct bgp_dest *dest;
	struct mon_ahead ahead; /* dest's lookups, asked for */
	char rdbuf[RD_ADDRSTRLEN];

	struct evpn_mon_host_walk hosts;
	bool hosts_started;

	/* sliced: fd is a duplicate of vtysh's socket, -1 in one go */
	int fd;
	struct mon_outbuf ob;
	struct thread *t_write;
	struct thread *t_slice;
	struct mon_show *next; /* in mon_shows */
};

/* The sliced shows in progress (bgpd's exit ends them). */
static struct mon_show *mon_shows;

/* Written and not yet sent: in the output buffer and in the writer's. */
static size_t mon_show_pending(const struct mon_show *s)
{
	return s->ob.end - s->ob.start + s->w.len;
}

/* A slice ends at MON_SHOW_SLICE bytes waiting or after MON_SHOW_SLICE_US,
 * whichever comes first: the time bound keeps the hold short whatever a
 * session costs (the clock is read every 32 routes or hosts walked). */
static bool mon_show_full(struct mon_show *s)
{
	if (s->fd < 0)
		return false;
	if (mon_show_pending(s) >= MON_SHOW_SLICE)
		return true;
	return !(++s->slice_items % 32)
	       && monotime_since(&s->slice_start, NULL) >= MON_SHOW_SLICE_US;
}

static void mon_show_leave_rd(struct mon_show *s)
{
	if (s->dest) {
		bgp_dest_unlock_node(s->dest);
		s->dest = NULL;
	}
	if (s->rd_table) {
		bgp_table_unlock(s->rd_table);
		s->rd_table = NULL;
	}
}

/* Stops the routes' walk where it is, releasing what it holds. */
static void mon_show_walk_end(struct mon_show *s)
{
	mon_show_leave_rd(s);
	if (s->rd_dest) {
		bgp_dest_unlock_node(s->rd_dest);
		s->rd_dest = NULL;
	}
	if (s->rd_top) {
		bgp_table_unlock(s->rd_top);
		s->rd_top = NULL;
	}
}

static void mon_show_enter_rd(struct mon_show *s)
{
	struct bgp_table *table = bgp_dest_get_bgp_table_info(s->rd_dest);

	prefix_rd2str((const struct prefix_rd *)bgp_dest_get_prefix(
			      s->rd_dest),
		      s->rdbuf, sizeof(s->rdbuf));
	if (!table)
		return;
	bgp_table_lock(table);
	s->rd_table = table;
	s->dest = evpn_mon_table_first(table);
	s->ahead.set = false;
}

/* The best path of every monitor route in the global EVPN table, in table
 * order (RD, then prefix). Each RD's table is entered at its monitor range
 * (evpn_mon_table_first): the cost is one descent per RD plus the monitor
 * routes, not the type-2/3/5 routes of the RIB. Returns false when the
 * slice is full (the walk resumes from s), true at the end. */
static bool mon_show_routes(struct mon_show *s)
{
	struct bgp_dest *dest, *next;
	struct bgp_path_info *pi;

	while (s->rd_dest) {
		const struct prefix_rd *prd =
			(const struct prefix_rd *)bgp_dest_get_prefix(
				s->rd_dest);

		while ((dest = s->dest)) {
			const struct prefix_evpn *p =
				(const struct prefix_evpn *)bgp_dest_get_prefix(
					dest);
			struct mon_ahead cur = s->ahead;

			if (cur.set) /* its bucket has come: the session */
				evpn_mon_feed_prefetch_session(cur.pub_hash);
			else
				cur = mon_imp_ahead(s->imps, p);
			/* one ahead: the walk now holds next. dest is held
			 * until it is written: the walk's lock may be its last
			 * (its routes withdrawn since the last slice), which
			 * moving on lets go of */
			bgp_dest_lock_node(dest);
			next = evpn_mon_table_next(dest);
			s->dest = next;
			s->ahead.set = false;
			if (next)
				s->ahead = mon_imp_ahead(
					s->imps,
					(const struct prefix_evpn *)
						bgp_dest_get_prefix(next));
			for (pi = bgp_dest_get_bgp_path_info(dest); pi;
			     pi = pi->next)
				if (CHECK_FLAG(pi->flags, BGP_PATH_SELECTED))
					break;
			if (pi)
				mon_show_route(&s->w, s->uj, s->bgp,
					       mon_imp_find(s->imps, p,
							    cur.imp_hash),
					       p, prd, s->rdbuf, pi);
			if (next)
				mon_imp_ahead_more(s->imps, &s->ahead);
			bgp_dest_unlock_node(dest);
			if (mon_show_full(s))
				return false;
		}
		mon_show_leave_rd(s);
		s->rd_dest = bgp_route_next(s->rd_dest);
		if (s->rd_dest)
			mon_show_enter_rd(s);
	}
	return true;
}

static void mon_show_start(struct mon_show *s, struct vty *vty, bool uj,
			   int fd)
{
	char line[320];

	s->uj = uj;
	s->fd = fd;
	mon_jw_init(&s->w, vty);
	if (fd >= 0) {
		s->ob.cap = MON_SHOW_SLICE + 2 * MON_JW_BUF;
		s->ob.data = XMALLOC(MTYPE_EVPN_MON_SHOW, s->ob.cap);
		s->w.ob = &s->ob;
	}
	s->bgp = bgp_get_evpn();
	if (s->bgp) {
		bgp_lock(s->bgp);
		mon_imps_use(s->bgp);
		s->imps_used = true;
		s->rd_top = s->bgp->rib[AFI_L2VPN][SAFI_EVPN];
		bgp_table_lock(s->rd_top);
		s->rd_dest = bgp_table_top(s->rd_top);
		if (s->rd_dest)
			mon_show_enter_rd(s);
	}
	/* Both forms are written through w: one write per 16 KB, not per
	 * line. */
	if (uj) {
		jw_open(&s->w, '{');
		jw_key(&s->w, "sessions");
		jw_open(&s->w, '[');
	} else {
		snprintf(line, sizeof(line),
			 "%-7s %-15s %-21s %-8s %-38s %-5s %-38s %-18s %s\n",
			 "Origin", "Originator", "RD", "VNI", "Host", "HOST",
			 "Server", "Imported into VNIs", "Import decision");
		jw_puts(&s->w, line);
	}
	s->phase = MON_SHOW_ROUTES;
}

/* The routes' walk is over (written, or the instance let go). */
static void mon_show_imps_end(struct mon_show *s)
{
	if (!s->imps_used)
		return;
	s->imps_used = false;
	s->imps = NULL;
	mon_imps_unuse();
}

/* Lets go of the instance and of everything of it the show holds; what
 * is left to write is the end of the output. */
static void mon_show_release_bgp(struct mon_show *s)
{
	mon_show_walk_end(s);
	mon_show_imps_end(s);
	if (s->hosts_started) {
		evpn_mon_host_walk_stop(&s->hosts);
		s->hosts_started = false;
	}
	if (s->bgp) {
		bgp_unlock(s->bgp);
		s->bgp = NULL;
	}
}

/* Writes until the slice is full or the show is done. */
static void mon_show_fill(struct mon_show *s)
{
	struct mon_jw *w = &s->w;
	struct mon_host *h;

	monotime(&s->slice_start);
	s->slice_items = 0;
	if (s->bgp && CHECK_FLAG(s->bgp->flags, BGP_FLAG_DELETE_IN_PROGRESS))
		mon_show_release_bgp(s);
	/* each session is shown as it is when the walk reaches it (a show
	 * in one go does not pause) */
	if (s->imps_used)
		s->imps = mon_imps_get(s->bgp);
	if (s->phase == MON_SHOW_ROUTES) {
		if (!mon_show_routes(s))
			return;
		mon_show_walk_end(s);
		mon_show_imps_end(s);
		/* This leaf's configuration and what became of it. */
		if (s->uj) {
			jw_close(w, ']');
			jw_key(w, "configured");
			jw_open(w, '[');
		} else if (s->bgp && listcount(evpn_mon.hosts))
			jw_puts(w, "\nConfigured on this leaf:\n");
		s->phase = MON_SHOW_CONFIGURED;
		/* no EVPN instance: "configured" stays empty */
		if (s->bgp) {
			evpn_mon_host_walk_start(&s->hosts);
			s->hosts_started = true;
		}
	}
	if (s->phase == MON_SHOW_CONFIGURED && s->hosts_started) {
		while ((h = evpn_mon_host_walk_next(&s->hosts))) {
			if (s->uj)
				mon_host_jw(w, s->bgp, h);
			else
				mon_host_line(w, s->bgp, h);
			if (mon_show_full(s))
				return;
		}
		evpn_mon_host_walk_stop(&s->hosts);
		s->hosts_started = false;
	}
	if (s->uj) {
		jw_close(w, ']');
		if (s->bgp)
			mon_counters_jw(w);
		jw_close(w, '}');
		jw_put(w, "\n", 1);
	} else
		mon_counters_text(w);
	jw_flush(w);
	s->phase = MON_SHOW_DONE;
}

static void mon_show_free(struct mon_show *s)
{
	struct mon_show **pp;

	THREAD_OFF(s->t_write);
	THREAD_OFF(s->t_slice);
	mon_show_release_bgp(s);
	if (s->fd >= 0) {
		close(s->fd);
		for (pp = &mon_shows; *pp; pp = &(*pp)->next)
			if (*pp == s) {
				*pp = s->next;
				break;
			}
	}
	XFREE(MTYPE_EVPN_MON_SHOW, s->ob.data);
	XFREE(MTYPE_EVPN_MON_SHOW, s);
}

static void mon_show_writable(struct thread *t);
static void mon_show_slice(struct thread *t);

/* Writes the next slice, and after the last the result code that vtysh
 * waits for. */
static void mon_show_next(struct mon_show *s)
{
	static const uint8_t result[4] = {0, 0, 0, CMD_SUCCESS};

	mon_show_fill(s);
	if (s->phase == MON_SHOW_DONE)
		mon_outbuf_put(&s->ob, result, sizeof(result));
}

/* Sends what is written, as far as the socket takes it; then, unless the
 * show is done or a slice is waiting already, the next slice's turn comes
 * in a later run of the event loop. So the next slice is written while
 * vtysh reads the last one from the socket, the two side by side, not in
 * turns, and what is ready in bgpd goes first. The command writes the
 * first slice; after it only mon_show_slice, an event, writes slices: at
 * most one per run of the loop. */
static void mon_show_pump(struct mon_show *s)
{
	ssize_t n;

	while (s->ob.start < s->ob.end) {
		n = write(s->fd, s->ob.data + s->ob.start,
			  s->ob.end - s->ob.start);
		if (n > 0) {
			s->ob.start += n;
			continue;
		}
		if (n < 0 && ERRNO_IO_RETRY(errno)) {
			thread_add_write(bm->master, mon_show_writable, s,
					 s->fd, &s->t_write);
			break;
		}
		/* vtysh has gone */
		mon_show_free(s);
		return;
	}
	if (s->ob.start == s->ob.end) {
		s->ob.start = s->ob.end = 0;
		if (s->phase == MON_SHOW_DONE) {
			mon_show_free(s);
			return;
		}
	}
	if (s->phase != MON_SHOW_DONE && mon_show_pending(s) < MON_SHOW_SLICE)
		thread_add_event(bm->master, mon_show_slice, s, 0, &s->t_slice);
}

/* Writable again: what waits is sent. */
static void mon_show_writable(struct thread *t)
{
	mon_show_pump(THREAD_ARG(t));
}

/* The turn of the next slice: written, then sent as far as the socket
 * takes it. The event is scheduled only while less than a slice waits
 * (mon_show_pump), which holds a stalled reader's show to one slice; the
 * check here only guards that. */
static void mon_show_slice(struct thread *t)
{
	struct mon_show *s = THREAD_ARG(t);

	if (s->phase != MON_SHOW_DONE && mon_show_pending(s) < MON_SHOW_SLICE)
		mon_show_next(s);
	mon_show_pump(s);
}

DEFPY(show_bgp_evpn_monitor, show_bgp_evpn_monitor_cmd,
      "show bgp l2vpn evpn monitor [json$uj]",
      SHOW_STR BGP_STR L2VPN_HELP_STR EVPN_HELP_STR
      "evpn-monitor monitoring sessions\n" JSON_STR)
{
	struct mon_show *s;
	int fd = -1;

	if (!bgp_get_evpn() && !uj) {
		vty_out(vty, "No EVPN instance\n");
		return CMD_SUCCESS;
	}
	s = XCALLOC(MTYPE_EVPN_MON_SHOW, sizeof(*s));
	/* in slices: vtysh's connection, with nothing else of this vty's
	 * still to send (the output must follow it; vtysh_flush() leaves
	 * output behind only with t_write scheduled) */
	if (vty->type == VTY_SHELL_SERV && !vty->filter && !vty->frame_pos
	    && vty->obuf && !vty->t_write && vty->pass_fd == -1)
		fd = fcntl(vty->wfd, F_DUPFD_CLOEXEC, 0);
	mon_show_start(s, vty, !!uj, fd);
	if (fd < 0) {
		mon_show_fill(s);
		mon_show_free(s);
		return CMD_SUCCESS;
	}
	s->w.vty = NULL; /* the show may outlive the vty */
	s->next = mon_shows;
	mon_shows = s;
	mon_show_next(s);
	mon_show_pump(s);
	return CMD_SUSPEND;
}

/* bgpd is exiting: the shows in progress end without their result (vtysh
 * sees the connection close). */
void evpn_mon_vty_fini(void)
{
	while (mon_shows)
		mon_show_free(mon_shows);
	mon_imps_drop();
}

/* A show does not keep a deleted instance alive: a reader that stopped
 * reading (a pager left open) would otherwise hold it, and its tables,
 * for as long as it waits. The show ends its output when it resumes. */
void evpn_mon_vty_bgp_delete(struct bgp *bgp)
{
	struct mon_show *s;

	for (s = mon_shows; s; s = s->next)
		if (s->bgp == bgp)
			mon_show_release_bgp(s);
	if (mon_imps_held.bgp == bgp)
		mon_imps_drop();
}

/* A VNI came or went: the kept imports table would be read whole again
 * at the next show; it goes now, and with it its hold on the VNI tables
 * (from the event loop: bgpd is in the middle of the VNI's change). A
 * show in progress reads it again at its next slice. */
void evpn_mon_vty_vni_event(void)
{
	if (mon_imps_held.t.slot)
		thread_add_event(bm->master, mon_imps_drop_event, NULL, 0,
				 &mon_imps_held.t_gone);
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
	struct mon_profile *p;
	struct mon_collector *c;
	char buf[128];

	if (bgp->inst_type != BGP_INSTANCE_TYPE_DEFAULT)
		return 0;
	/* The import policy and limits first: a configuration read back
	 * decides on the sessions it holds once. */
	evpn_mon_import_config_write(vty);
	/* Profiles first: a session line names one, and a configuration
	 * read back must not pass through "profile-missing". */
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.profiles, node, p))
		mon_profile_write(vty, "  ", p);
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.servers, node, s)) {
		vty_out(vty, "  monitor server %u mac %pEA", s->host_id,
			&s->mac);
		if (!IS_IPADDR_NONE(&s->ip))
			vty_out(vty, " ip %pIA", &s->ip);
		vty_out(vty, "\n");
	}
	/* Collectors before the sessions, like profiles. */
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.collectors, node, c)) {
		mon_collector_str(c, buf, sizeof(buf));
		vty_out(vty, "  monitor collector %s\n", buf);
	}
	for (ALL_LIST_ELEMENTS_RO(evpn_mon.hosts, node, h)) {
		vty_out(vty, "  monitor host vni %u", h->vni);
		if (h->has_mac)
			vty_out(vty, " mac %pEA", &h->mac);
		if (!IS_IPADDR_NONE(&h->ip))
			vty_out(vty, " ip %pIA", &h->ip);
		vty_out(vty, " %s %u",
			h->dest == EVPN_MON_DEST_COLLECTOR ? "collector"
							   : "server",
			h->host_id);
		if (h->profile[0])
			vty_out(vty, " profile %s", h->profile);
		vty_out(vty, "\n");
	}
	return 0;
}

/* The show's output is held in the vty's buffer until vtysh has read it:
 * about 45 MB at 50,000 sessions, in 4 KB chunks from the heap's top. When
 * vtysh has read it, glibc returned that memory to the system (the top of
 * the heap is trimmed once it exceeds 128 KB), so every show faulted its
 * buffer in afresh: measured on a VM, that was half of a 250 ms show, more
 * than the formatting. bgpd keeps up to 64 MB of freed heap instead, and a
 * show reuses its predecessor's pages; the first show after bgpd starts,
 * or one larger than any before, still pays for its new pages.
 *
 * Setting the trim threshold stops glibc from raising its mmap threshold
 * as it goes (each freed mmap()ed block raises it, up to 32 MB): it is set
 * where that would end, so that the show's imports table (5 MB at 50,000
 * sessions) and bgpd's other large, short-lived blocks come from the heap
 * and its kept pages, not from fresh mappings. */
#define MON_TRIM_THRESHOLD (64 * 1024 * 1024)
#define MON_MMAP_THRESHOLD (32 * 1024 * 1024)

void evpn_mon_vty_init(void)
{
#if defined(__GLIBC__) && defined(M_TRIM_THRESHOLD)
	mallopt(M_TRIM_THRESHOLD, MON_TRIM_THRESHOLD);
	mallopt(M_MMAP_THRESHOLD, MON_MMAP_THRESHOLD);
#endif
	hook_register(bgp_evpn_config_write, evpn_mon_config_write);

	install_element(BGP_EVPN_NODE, &evpn_mon_server_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_server_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_host_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_profile_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_profile_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_profile_direction_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_profile_direction_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_profile_filter_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_profile_filter_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_profile_filter_preset_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_profile_udf_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_profile_udf_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_profile_sample_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_profile_sample_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_profile_truncate_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_profile_truncate_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_profile_police_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_profile_police_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_collector_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_collector_cmd);
	install_element(VIEW_NODE, &show_bgp_evpn_monitor_profile_cmd);
	install_element(VIEW_NODE, &show_bgp_evpn_monitor_collector_cmd);
	install_element(VIEW_NODE, &show_bgp_evpn_monitor_cmd);
	install_element(VIEW_NODE, &show_bgp_evpn_monitor_feed_cmd);
}
