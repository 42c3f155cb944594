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
#include "lib/typesafe.h"

#include "bgpd/bgpd.h"

#include "bgpd/evpn_mon_codec.h"

struct bgpevpn;
struct vty;

DECLARE_MGROUP(EVPN_MON);

/* "monitor server HOST-ID mac M [ip A]" */
struct mon_server {
	uint32_t host_id;
	struct ethaddr mac;
	struct ipaddr ip; /* IPADDR_NONE when not given */
};

/* "monitor collector ID ip A.B.C.D erspan 2|3 [...]": an ERSPAN collector.
 * erspan holds what every session using it carries in its ERSPAN TLV:
 * canonical (gre_proto 0 for the version's own protocol). */
struct mon_collector {
	uint32_t id;
	struct in_addr ip;
	struct evpn_mon_erspan erspan;
};

/* "monitor host vni V [mac M] [ip A] server HOST-ID|collector ID": one
 * session. Its destination kind is part of its identity (and of the route
 * key): "server 7" and "collector 7" are two sessions. */
struct mon_host {
	vni_t vni;
	bool has_mac;
	struct ethaddr mac;
	struct ipaddr ip; /* IPADDR_NONE when not given */
	uint8_t dest;     /* enum evpn_mon_dest */
	uint32_t host_id; /* the server's HOST ID or the collector ID */
	char profile[EVPN_MON_PROFILE_NAME_MAX + 1]; /* "" = no profile */
	struct listnode *node;    /* in evpn_mon.hosts */
	struct listnode *pending; /* in the pending queue, or NULL */

	/* What this leaf originates for it now (for withdrawal under the
	 * RD/key it was advertised with, even after they changed). */
	bool originated;
	struct prefix_evpn adv_p;
	struct prefix_rd adv_prd;
};

/* One filter line of a profile as configured. UDFs keep their numbers
 * (udf[i] is "udf i+1", set when bit i of udf_set is); the route carries
 * the set ones in number order. The line exists when its 5-tuple line or
 * any UDF line is configured (each is a line of the running-config). */
struct mon_profile_line {
	bool tuple_set;  /* "filter N [5-tuple]" or a preset configured */
	uint8_t preset;  /* enum evpn_mon_preset it was set from, or NONE */
	uint8_t udf_set; /* bit i: udf i+1 configured */
	uint8_t pfx_set; /* bit 0: src given, bit 1: dst given (a /0 too) */
	struct evpn_mon_filter f; /* f.nudf unused (0) */
};

/* Everything "monitor profile NAME ..." sets: a value, copied, changed and
 * validated as a whole before it replaces the profile's. */
struct mon_profile_cfg {
	uint8_t direction;   /* enum evpn_mon_direction */
	uint32_t sample;     /* 0 = every packet */
	uint16_t truncate;   /* 0 = whole frame */
	uint8_t police_unit; /* enum evpn_mon_police_unit */
	uint64_t police_rate;
	uint32_t police_burst;
	struct mon_profile_line line[EVPN_MON_MAX_FILTERS]; /* line[n-1] = filter n */
};

/* "monitor profile NAME ...": a mirror profile. */
struct mon_profile {
	char name[EVPN_MON_PROFILE_NAME_MAX + 1];
	struct mon_profile_cfg cfg;
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
	struct list *profiles; /* struct mon_profile, sorted by name */
	struct list *collectors; /* struct mon_collector, sorted by id */
	struct evpn_mon_stats stats;
};
extern struct evpn_mon_globals evpn_mon;

/* config (bgp_evpn_mon.c) */
struct mon_server *evpn_mon_server_find(uint32_t host_id);
struct mon_host *evpn_mon_host_find(vni_t vni, const struct ethaddr *mac,
				    const struct ipaddr *ip, uint8_t dest,
				    uint32_t host_id);
void evpn_mon_server_set(struct bgp *bgp, uint32_t host_id,
			 const struct ethaddr *mac, const struct ipaddr *ip);
void evpn_mon_server_unset(struct bgp *bgp, uint32_t host_id);
void evpn_mon_host_set(struct bgp *bgp, vni_t vni, const struct ethaddr *mac,
		       const struct ipaddr *ip, uint8_t dest, uint32_t host_id,
		       const char *profile);
void evpn_mon_host_unset(struct bgp *bgp, struct mon_host *h);
/* Re-originate h (batched) after something it depends on changed. */
void evpn_mon_host_resync(struct bgp *bgp, struct mon_host *h);
const char *evpn_mon_host_state(struct bgp *bgp, const struct mon_host *h);

/* A walk over the configured hosts, in configuration order, that may pause
 * between two steps (a show sent in slices): removing the host a walk
 * visited last moves the walk back to the host before it, so that it goes
 * on with the one after. Hosts added meanwhile are visited (they join the
 * end). Every started walk must be stopped. */
struct evpn_mon_host_walk {
	struct listnode *last; /* the host visited last; NULL: none yet */
	struct evpn_mon_host_walk *chain; /* the other walks in progress */
};
void evpn_mon_host_walk_start(struct evpn_mon_host_walk *walk);
struct mon_host *evpn_mon_host_walk_next(struct evpn_mon_host_walk *walk);
void evpn_mon_host_walk_stop(struct evpn_mon_host_walk *walk);

/* collectors (bgp_evpn_mon.c) */
struct mon_collector *evpn_mon_collector_find(uint32_t id);
/* The ERSPAN parameters of a collector whose "monitor collector" line gave
 * only its ID, IP and version: the documented defaults. */
void evpn_mon_collector_defaults(uint32_t id, uint8_t version,
				 struct evpn_mon_erspan *e);
/* Create or replace the collector; re-originates the sessions using it when
 * anything changed. */
void evpn_mon_collector_set(struct bgp *bgp, uint32_t id,
			    const struct in_addr *ip,
			    const struct evpn_mon_erspan *erspan);
/* Removes it: the sessions using it are withdrawn (collector-missing). */
void evpn_mon_collector_unset(struct bgp *bgp, uint32_t id);
unsigned int evpn_mon_collector_users(uint32_t id);

/* profiles (bgp_evpn_mon_profile.c) */
void evpn_mon_profile_init(void);
void evpn_mon_profile_fini(void);
struct mon_profile *evpn_mon_profile_find(const char *name);
struct mon_profile *evpn_mon_profile_get(const char *name, bool *created);
/* Removes it; the sessions naming it stop being advertised. */
void evpn_mon_profile_delete(struct bgp *bgp, struct mon_profile *p);
/* The session options cfg stands for, canonical (present = 1). */
void evpn_mon_profile_build(const char *name, const struct mon_profile_cfg *cfg,
			    struct evpn_mon_options *o);
/* Validate cfg as p's next configuration: EVPN_MON_OPT_OK, or the error
 * with its text in err (for "% <reason>"). */
enum evpn_mon_opt_error evpn_mon_profile_check(const char *name,
					       const struct mon_profile_cfg *cfg,
					       char *err, size_t errsize);
/* Replace p's configuration by cfg (already checked) and re-originate every
 * session using it; a no-op when nothing changed. */
void evpn_mon_profile_commit(struct bgp *bgp, struct mon_profile *p,
			     const struct mon_profile_cfg *cfg);
/* Sessions naming the profile (whether it exists or not). */
unsigned int evpn_mon_profile_users(const char *name);
/* Fill o from the profile called name; false when it does not exist. */
bool evpn_mon_profile_options(const char *name, struct evpn_mon_options *o);
/* Whether the profile called name (when it exists) and a collector's ERSPAN
 * TLV fit in one route together: EVPN_MON_OPT_OK, or the error with its
 * text in err. */
enum evpn_mon_opt_error evpn_mon_profile_check_collector(const char *name,
							 uint32_t collector,
							 char *err,
							 size_t errsize);

/* route <-> prefix (bgp_evpn_mon.c) */
void evpn_mon_prefix_from_route(struct prefix_evpn *p,
				const struct evpn_mon_route *r);
/* false: the path's payload is missing or malformed (r has the key only) */
bool evpn_mon_route_from_path(struct evpn_mon_route *r,
			      const struct prefix_evpn *p,
			      const struct prefix_rd *prd,
			      const struct attr *attr);
const struct prefix_rd *evpn_mon_path_rd(struct bgp_path_info *pi,
					 struct bgpevpn *vpn);
void evpn_mon_route2json(const struct evpn_mon_route *r, bool with_server,
			 json_object *json);
json_object *evpn_mon_options2json(const struct evpn_mon_options *o);

/* The monitor routes of a table (global per-RD table or VNI table), in
 * table order, without walking the table's other routes:
 *   for (dest = evpn_mon_table_first(t); dest;
 *        dest = evpn_mon_table_next(dest))
 * Each returned node is locked as bgp_route_next() leaves it; leaving the
 * loop early needs bgp_dest_unlock_node(dest). */
struct bgp_dest *evpn_mon_table_first(struct bgp_table *table);
struct bgp_dest *evpn_mon_table_next(struct bgp_dest *dest);
/* dest itself when it is a monitor route, else the next one (or NULL) */
struct bgp_dest *evpn_mon_table_skip(struct bgp_dest *dest);

/* ------------------------------------------------------------------ */
/* Held sessions and their import decision                             */
/* ------------------------------------------------------------------ */

/* A session's import decision: the values of the feed's ImportState. */
enum evpn_mon_import_state {
	EVPN_MON_IMPORT_INSTALLED = 0,	/* permitted and within the limits */
	EVPN_MON_IMPORT_DENIED = 1,	/* denied by the import policy */
	EVPN_MON_IMPORT_OVER_LIMIT = 2, /* permitted, refused by a limit */
};

/* Why a session has its state. */
enum evpn_mon_import_cause {
	EVPN_MON_CAUSE_LOCAL = 0,     /* configured on this leaf: permitted */
	EVPN_MON_CAUSE_RULE,	      /* `monitor import rule N` decided */
	EVPN_MON_CAUSE_DEFAULT,       /* no rule matched: the default */
	EVPN_MON_CAUSE_LIMIT,	      /* maximum-sessions reached */
	EVPN_MON_CAUSE_LIMIT_ORIG,    /* maximum-sessions per-originator */
};

PREDECL_RBTREE_UNIQ(mon_held);
PREDECL_RBTREE_UNIQ(mon_wait);
PREDECL_DLIST(mon_waitall);
struct mon_orig;

/* The import module's part of a held session. */
struct mon_import {
	uint64_t arrival; /* when this bgpd first saw the session: its rank
			   * (kept for a while after a withdrawal) */
	uint8_t state;	  /* enum evpn_mon_import_state */
	uint8_t cause;	  /* enum evpn_mon_import_cause */
	uint16_t rule;	  /* with EVPN_MON_CAUSE_RULE */
	bool permitted;	  /* by the policy (with the cause above, or kept
			   * in policy_cause/policy_rule while over a limit) */
	uint8_t policy_cause;
	uint16_t policy_rule;
	uint8_t prev_state; /* at the start of a settle, for the log */
	bool fresh;	    /* arrived since the last settle */
	bool wait_local;    /* its class in the waiting order (local first) */
	bool resend;	    /* the reason's text changed: send it again */
	struct listnode *pending; /* in the settle's work list */
	struct mon_orig *orig;
	struct mon_held_item hitem;    /* every held session, by arrival */
	struct mon_wait_item witem;    /* the originator's waiting sessions */
	struct mon_waitall_item aitem; /* every waiting session */
};

/* One held session: the best path of a monitor route in a live L2 VNI
 * table (published by the feed). Slot in the VNI table: (vni, eth_tag,
 * key); the RD comes from the best path (a new RD is a new session for the
 * feed). Everything before `seen` is compared to tell a change: unused
 * payload octets stay zero. */
struct mon_sess {
	uint32_t vni;
	uint32_t eth_tag;
	struct evpn_mon_key key;
	uint8_t rd[8];
	bool local;
	uint16_t pl_len;
	uint8_t pl[EVPN_MON_PAYLOAD_MAX_LEN]; /* server and options */
	bool seen; /* full walk bookkeeping */
	/* what the feed's subscribers were sent */
	uint8_t shown;	      /* bit per view: the view has it */
	bool changed;	      /* content changed since it was sent */
	uint8_t sent_state, sent_cause;
	uint16_t sent_rule;
	struct listnode *touched; /* in the feed's flush list */
	struct mon_import imp;
};

/* The session as a route (payload decoded). */
void evpn_mon_sess_route(const struct mon_sess *s, struct evpn_mon_route *r);

/* import (bgp_evpn_mon_import.c) */
void evpn_mon_import_init(void);
void evpn_mon_import_fini(void);
/* The feed holds a new session / one whose payload changed / drops one. */
void evpn_mon_import_arrive(struct mon_sess *s);
void evpn_mon_import_changed(struct mon_sess *s);
void evpn_mon_import_leave(struct mon_sess *s);
/* At the end of each feed walk: re-evaluation after a policy change,
 * limits, admission of waiting sessions in arrival order; every session
 * whose decision changed is passed to evpn_mon_feed_touch(). */
void evpn_mon_import_settle(void);
/* The decision's reason, in words. */
void evpn_mon_import_reason(const struct mon_sess *s, char *buf, size_t size);
const char *evpn_mon_import_state_name(uint8_t state);
int evpn_mon_import_config_write(struct vty *vty);
void evpn_mon_import_vty_init(void);

/* feed (bgp_evpn_mon_feed.c) */
/* The decision changed: publish it with the walk's other changes. */
void evpn_mon_feed_touch(struct mon_sess *s);
/* Run a walk soon (to settle the import decisions). */
void evpn_mon_feed_kick(void);
/* The held session of (vni, prefix), or NULL. */
const struct mon_sess *evpn_mon_feed_lookup(vni_t vni,
					    const struct prefix_evpn *p);
/* Bring the lookup's memory toward the cache, one dependent load at a
 * time: the show asks for the next session's decision while it writes the
 * current one. The first step returns the hash that the others take: its
 * slot in the feed's table, then the bucket it points to (once the slot
 * has come), then the session (once the bucket has). */
uint32_t evpn_mon_feed_prefetch(vni_t vni, const struct prefix_evpn *p);
void evpn_mon_feed_prefetch_bucket(uint32_t hash);
void evpn_mon_feed_prefetch_session(uint32_t hash);
/* How many (VNI, session) pairs the feed holds. */
unsigned int evpn_mon_feed_count(void);

void evpn_mon_feed_init(struct thread_master *master, const char *endpoint);
void evpn_mon_feed_fini(void);
/* Re-read everything (VNI events) / one (VNI, prefix) slot. */
void evpn_mon_feed_schedule(void);
void evpn_mon_feed_mark(vni_t vni, const struct prefix_evpn *p);
/* Changes with every monitor route of a VNI table and every VNI event:
 * what was read from the VNI tables before is stale when it differs. */
unsigned long evpn_mon_feed_generation(void);
/* The change that made one generation: that (VNI, prefix) may have
 * changed. Journaled only while a reader holds the journal; NULL when it
 * does not hold that generation (made before the first hold, at or before
 * the last VNI event, or more than the journal keeps ago): the reader
 * reads everything again. A reader that has read the tables at generation
 * G brings its view up to date by reading again the slots of G + 1 ..
 * evpn_mon_feed_generation(). */
struct evpn_mon_change {
	vni_t vni;
	struct prefix_evpn p;
};
void evpn_mon_feed_journal_hold(void);
void evpn_mon_feed_journal_release(void);
const struct evpn_mon_change *evpn_mon_feed_change(unsigned long gen);
/* A reader read the tables whole again instead of going on with the
 * journal (counted, as the journal's cost against the tables'). */
void evpn_mon_feed_journal_reread(void);
void evpn_mon_feed_show(struct vty *vty, bool uj);

/* vty (bgp_evpn_mon_vty.c) */
void evpn_mon_vty_init(void);
void evpn_mon_vty_fini(void);
/* The instance is being deleted: the shows in progress, and the imports
 * table kept for them, let go of it. */
void evpn_mon_vty_bgp_delete(struct bgp *bgp);
/* A VNI came or went: the kept imports table goes. */
void evpn_mon_vty_vni_event(void);

#endif /* _BGP_EVPN_MON_H */
