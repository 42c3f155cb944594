// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * evpn-monitor bgpd module: import policy and session limits.
 *
 *  router bgp ASN
 *   address-family l2vpn evpn
 *    monitor import rule (1-65535) <permit|deny> [originator prefix-list WORD]
 *       [vni (1-16777215)] [host-id (1-65535) [(1-65535)]]
 *       [collector prefix-list WORD] [host-mac access-list WORD]
 *       [host-ip prefix-list WORD]
 *    monitor import default <permit|deny>
 *    monitor import maximum-sessions (1-4294967295) [warning-threshold (1-100)]
 *    monitor import maximum-sessions per-originator (1-4294967295)
 *       [warning-threshold (1-100)]
 *
 *  show bgp l2vpn evpn monitor import [json]
 *
 * Every session this bgpd holds (the best path of a monitor route in a live
 * L2 VNI table, as the feed publishes it) gets a decision: INSTALLED, DENIED
 * (by the policy) or OVER_LIMIT (permitted, but a limit is reached). bgpd
 * keeps every route whatever the decision (a route reflector still relays
 * it); the decision only tells the local consumer what to install.
 *
 * The policy: rules in number order, the first whose conditions all match
 * decides; none matching: the default. Sessions configured on this leaf are
 * always permitted. The limits: sessions are admitted in the order this
 * bgpd first saw them; past a limit a new session waits (OVER_LIMIT), an
 * installed one is never pushed out by a newer one; when room frees, the
 * waiting sessions configured on this leaf go first, then the oldest
 * received one that fits. A withdrawn session keeps its rank for
 * IMPORT_RANK_GRACE seconds, so that a short flap does not send it behind
 * the sessions that waited meanwhile. Lowering a limit below the installed
 * count sets the newest installed received sessions waiting (then, if
 * needed, the newest local ones).
 *
 * The originator is chosen by whoever sends the route, so nothing done per
 * route event walks all originators or all sessions: the originators with
 * room and waiting sessions are kept ordered by their first waiting
 * session, the warning thresholds are checked for the originators whose
 * counts changed, and only a limit change (or the global limit being
 * reached or left) revisits every waiting session, for its reason.
 *
 * Decisions change only at the end of a feed walk (evpn_mon_import_settle),
 * so that the feed sends each flip with the walk's other changes and a
 * snapshot always matches the deltas. A change of the policy, of a limit,
 * or of a prefix-list or access-list a rule names schedules a walk that
 * re-evaluates every held session; no BGP session is reset.
 */
#include <zebra.h>

#include "lib/command.h"
#include "lib/filter.h"
#include "lib/hash.h"
#include "lib/jhash.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/memory.h"
#include "lib/monotime.h"
#include "lib/plist.h"
#include "lib/prefix.h"
#include "lib/thread.h"
#include "lib/vty.h"

#include "bgpd/bgpd.h"
#include "bgpd/bgp_attr.h"
#include "bgpd/bgp_vty.h"
#include "bgpd/bgp_evpn_vty.h"

#include "bgpd/bgp_evpn_mon.h"

#ifndef VTYSH_EXTRACT_PL
#include "bgpd/bgp_evpn_mon_import_clippy.c"
#endif

DEFINE_MTYPE_STATIC(EVPN_MON, EVPN_MON_IMPORT, "EVPN monitor import policy");

/* Defaults (docs/operator-guide.md, "Import policy and limits"). */
#define IMPORT_MAX_DEFAULT 16384
#define IMPORT_MAX_ORIG_DEFAULT 4096
#define IMPORT_WARN_DEFAULT 75

/* Not counted anywhere yet (a session just arrived, or leaving). */
#define STATE_NONE 0xff

/* How long a withdrawn session keeps its arrival rank: BGP graceful
 * restart's default restart time, so a peer's restart or a short flap
 * does not cost its sessions their place. */
#define IMPORT_RANK_GRACE 120
/* At most this many withdrawn sessions remembered (the oldest forgotten
 * first): withdrawals cost a bounded amount of memory. */
#define IMPORT_GHOSTS_MAX 65536

/* A session's identity: its slot (VNI, Ethernet tag, route key, which
 * holds the originator). */
#define SESS_ID_LEN offsetof(struct mon_sess, rd)

static int held_cmp(const struct mon_sess *a, const struct mon_sess *b)
{
	return numcmp(a->imp.arrival, b->imp.arrival);
}

/* Waiting: sessions configured on this leaf first, then by arrival. */
static int wait_cmp(const struct mon_sess *a, const struct mon_sess *b)
{
	if (a->imp.wait_local != b->imp.wait_local)
		return a->imp.wait_local ? -1 : 1;
	return numcmp(a->imp.arrival, b->imp.arrival);
}

DECLARE_RBTREE_UNIQ(mon_held, struct mon_sess, imp.hitem, held_cmp);
DECLARE_RBTREE_UNIQ(mon_wait, struct mon_sess, imp.witem, wait_cmp);
DECLARE_DLIST(mon_waitall, struct mon_sess, imp.aitem);

PREDECL_RBTREE_UNIQ(mon_ready);
PREDECL_DLIST(mon_ghosts);

/* "monitor import rule N ...": conditions AND; none = every session. */
struct mon_rule {
	uint16_t seq;
	bool permit;
	char *orig_plist;
	vni_t vni; /* 0: any */
	uint16_t hid_lo, hid_hi; /* 0: any */
	char *coll_plist;
	char *mac_acl;
	char *hip_plist;
	uint64_t denials; /* sessions it set DENIED */
};

/* The sessions of one originator. */
struct mon_orig {
	struct in_addr ip;
	uint32_t held, installed, denied, over;
	bool warned;
	struct mon_wait_head wait; /* its OVER_LIMIT sessions, in order */
	struct listnode *node;	   /* in imp.origs */
	/* in imp.ready while it has room and waiting sessions, keyed by its
	 * first waiting session (copied: the key must not change in the
	 * tree) */
	bool ready, ready_local;
	uint64_t ready_arrival;
	struct mon_ready_item ritem;
	struct listnode *warn_node; /* in imp.warn_check */
};

static int ready_cmp(const struct mon_orig *a, const struct mon_orig *b)
{
	if (a->ready_local != b->ready_local)
		return a->ready_local ? -1 : 1;
	return numcmp(a->ready_arrival, b->ready_arrival);
}

DECLARE_RBTREE_UNIQ(mon_ready, struct mon_orig, ritem, ready_cmp);

/* A withdrawn session's rank, kept for IMPORT_RANK_GRACE seconds. */
struct mon_ghost {
	uint8_t id[SESS_ID_LEN];
	uint64_t arrival;
	time_t expires;
	struct mon_ghosts_item gitem; /* by expiry */
};

DECLARE_DLIST(mon_ghosts, struct mon_ghost, gitem);

static struct {
	struct list *rules; /* struct mon_rule, by seq */
	bool default_deny;
	uint32_t max, max_warn;
	uint32_t max_orig, max_orig_warn;
	bool reeval;	     /* the policy changed: evaluate every session */
	bool limits_lowered; /* enforce the limits on installed sessions */
	/* a limit's value changed: the reasons that quote it */
	bool max_changed, max_orig_changed;
	bool origs_recheck; /* the per-originator limit or threshold changed */
	/* what the waiting sessions' cause says: the global limit reached */
	bool wait_global;
	uint64_t next_arrival;
	struct mon_held_head held;
	struct mon_waitall_head waitall; /* every OVER_LIMIT session */
	struct mon_ready_head ready;	 /* originators that can admit */
	struct hash *orig_hash; /* struct mon_orig, by ip */
	struct list *origs;	/* the same */
	struct list *warn_check; /* struct mon_orig: installed count changed */
	struct list *pending;	/* struct mon_sess: decided in this settle */
	struct hash *ghost_hash; /* struct mon_ghost, by id */
	struct mon_ghosts_head ghosts;
	uint32_t installed, denied, over;
	bool warned;
	/* counters */
	uint64_t denials, default_denials, refusals, reevals, flips;
} imp;

/* ------------------------------------------------------------------ */
/* Log, at most IMPORT_LOG_PER_SEC lines a second                      */
/* ------------------------------------------------------------------ */

#define IMPORT_LOG_PER_SEC 20

static struct {
	time_t window;
	unsigned int in_window, suppressed;
	struct thread *t_flush;
} ilog;

/* A second after the first line left out: how many were. */
static void import_log_flush(struct thread *t)
{
	if (ilog.suppressed)
		zlog_warn("evpn-monitor: import: %u more session decisions not logged (at most %u a second; see show bgp l2vpn evpn monitor import)",
			  ilog.suppressed, IMPORT_LOG_PER_SEC);
	ilog.suppressed = 0;
}

static bool import_log_ok(void)
{
	time_t now = monotime(NULL);

	if (now != ilog.window) {
		ilog.window = now;
		ilog.in_window = 0;
	}
	if (++ilog.in_window > IMPORT_LOG_PER_SEC) {
		if (!ilog.suppressed++ && bm && bm->master)
			thread_add_timer(bm->master, import_log_flush, NULL, 1,
					 &ilog.t_flush);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Originators                                                          */
/* ------------------------------------------------------------------ */

static unsigned int orig_key(const void *a)
{
	return jhash_1word(((const struct mon_orig *)a)->ip.s_addr, 0x6f726967);
}

static bool orig_eq(const void *a, const void *b)
{
	return ((const struct mon_orig *)a)->ip.s_addr
	       == ((const struct mon_orig *)b)->ip.s_addr;
}

static struct mon_orig *orig_get(const uint8_t *ip)
{
	struct mon_orig key, *o;

	memcpy(&key.ip, ip, 4);
	o = hash_lookup(imp.orig_hash, &key);
	if (o)
		return o;
	o = XCALLOC(MTYPE_EVPN_MON_IMPORT, sizeof(*o));
	o->ip = key.ip;
	mon_wait_init(&o->wait);
	o->node = listnode_add(imp.origs, o);
	(void)hash_get(imp.orig_hash, o, hash_alloc_intern);
	return o;
}

static void orig_put(struct mon_orig *o)
{
	if (o->held)
		return;
	if (o->ready)
		mon_ready_del(&imp.ready, o);
	if (o->warn_node)
		list_delete_node(imp.warn_check, o->warn_node);
	hash_release(imp.orig_hash, o);
	list_delete_node(imp.origs, o->node);
	mon_wait_fini(&o->wait);
	XFREE(MTYPE_EVPN_MON_IMPORT, o);
}

static bool orig_full(const struct mon_orig *o)
{
	return o->installed >= imp.max_orig;
}

/* Keep o in imp.ready exactly while it has room and a waiting session. */
static void orig_ready_update(struct mon_orig *o)
{
	const struct mon_sess *head = mon_wait_const_first(&o->wait);
	bool want = head && !orig_full(o);

	if (o->ready) {
		if (want && head->imp.wait_local == o->ready_local
		    && head->imp.arrival == o->ready_arrival)
			return;
		mon_ready_del(&imp.ready, o);
		o->ready = false;
	}
	if (!want)
		return;
	o->ready_local = head->imp.wait_local;
	o->ready_arrival = head->imp.arrival;
	mon_ready_add(&imp.ready, o);
	o->ready = true;
}

/* Its installed count changed: check its warning threshold at the end of
 * the settle. */
static void orig_warn_mark(struct mon_orig *o)
{
	if (!o->warn_node)
		o->warn_node = listnode_add(imp.warn_check, o);
}

/* ------------------------------------------------------------------ */
/* Ranks of withdrawn sessions                                          */
/* ------------------------------------------------------------------ */

static unsigned int ghost_key(const void *a)
{
	return jhash(((const struct mon_ghost *)a)->id, SESS_ID_LEN,
		     0x67686f73);
}

static bool ghost_eq(const void *a, const void *b)
{
	return !memcmp(((const struct mon_ghost *)a)->id,
		       ((const struct mon_ghost *)b)->id, SESS_ID_LEN);
}

static void ghost_free(struct mon_ghost *g)
{
	mon_ghosts_del(&imp.ghosts, g);
	hash_release(imp.ghost_hash, g);
	XFREE(MTYPE_EVPN_MON_IMPORT, g);
}

/* Forget the ranks whose grace is over (the list is in expiry order). */
static void ghosts_prune(time_t now)
{
	struct mon_ghost *g;

	while ((g = mon_ghosts_first(&imp.ghosts))
	       && (g->expires <= now
		   || mon_ghosts_count(&imp.ghosts) > IMPORT_GHOSTS_MAX))
		ghost_free(g);
}

static void ghost_remember(const struct mon_sess *s)
{
	struct mon_ghost *g, key;
	time_t now = monotime(NULL);

	ghosts_prune(now);
	memcpy(key.id, s, SESS_ID_LEN);
	g = hash_lookup(imp.ghost_hash, &key);
	if (g)
		ghost_free(g);
	g = XCALLOC(MTYPE_EVPN_MON_IMPORT, sizeof(*g));
	memcpy(g->id, s, SESS_ID_LEN);
	g->arrival = s->imp.arrival;
	g->expires = now + IMPORT_RANK_GRACE;
	mon_ghosts_add_tail(&imp.ghosts, g);
	(void)hash_get(imp.ghost_hash, g, hash_alloc_intern);
}

/* The rank s had if it was withdrawn less than IMPORT_RANK_GRACE ago,
 * else a new one. */
static uint64_t ghost_take(const struct mon_sess *s)
{
	struct mon_ghost *g, key;
	uint64_t arrival;

	ghosts_prune(monotime(NULL));
	memcpy(key.id, s, SESS_ID_LEN);
	g = hash_lookup(imp.ghost_hash, &key);
	if (!g)
		return ++imp.next_arrival;
	arrival = g->arrival;
	ghost_free(g);
	return arrival;
}

/* ------------------------------------------------------------------ */
/* Policy                                                               */
/* ------------------------------------------------------------------ */

static int rule_cmp(void *a, void *b)
{
	return numcmp(((struct mon_rule *)a)->seq, ((struct mon_rule *)b)->seq);
}

static struct mon_rule *rule_find(uint16_t seq)
{
	struct listnode *node;
	struct mon_rule *r;

	for (ALL_LIST_ELEMENTS_RO(imp.rules, node, r))
		if (r->seq == seq)
			return r;
	return NULL;
}

static void rule_free(struct mon_rule *r)
{
	XFREE(MTYPE_EVPN_MON_IMPORT, r->orig_plist);
	XFREE(MTYPE_EVPN_MON_IMPORT, r->coll_plist);
	XFREE(MTYPE_EVPN_MON_IMPORT, r->mac_acl);
	XFREE(MTYPE_EVPN_MON_IMPORT, r->hip_plist);
	XFREE(MTYPE_EVPN_MON_IMPORT, r);
}

/* An address against a named prefix-list, FRR's way, in address mode
 * (prefix_list_apply_ext): the matching entry with the lowest sequence
 * number decides, an entry matches every address inside its prefix
 * (`permit 10.66.0.0/16` matches every address in it; ge/le are not looked
 * at in address mode), no entry matching denies, and an existing but
 * empty list permits every address. A list that does not exist matches
 * nothing, as in FRR's route-maps. */
static bool plist_permits(const char *name, const uint8_t *addr, uint8_t len)
{
	struct prefix_list *pl;
	struct prefix p;

	if (len != 4 && len != 16)
		return false;
	pl = prefix_list_lookup(len == 4 ? AFI_IP : AFI_IP6, name);
	if (!pl)
		return false;
	memset(&p, 0, sizeof(p));
	p.family = len == 4 ? AF_INET : AF_INET6;
	p.prefixlen = len * 8;
	memcpy(&p.u.val, addr, len);
	return prefix_list_apply_ext(pl, NULL, &p, true) == PREFIX_PERMIT;
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool rule_same(const struct mon_rule *a, const struct mon_rule *b)
{
	return a->seq == b->seq && a->permit == b->permit
	       && str_same(a->orig_plist, b->orig_plist) && a->vni == b->vni
	       && a->hid_lo == b->hid_lo && a->hid_hi == b->hid_hi
	       && str_same(a->coll_plist, b->coll_plist)
	       && str_same(a->mac_acl, b->mac_acl)
	       && str_same(a->hip_plist, b->hip_plist);
}

static bool acl_permits_mac(const char *name, const uint8_t *mac)
{
	struct access_list *acl = access_list_lookup(AFI_L2VPN, name);
	struct prefix p;

	if (!acl)
		return false;
	memset(&p, 0, sizeof(p));
	p.family = AF_ETHERNET;
	p.prefixlen = ETH_ALEN * 8;
	memcpy(&p.u.prefix_eth, mac, ETH_ALEN);
	return access_list_apply(acl, &p) == FILTER_PERMIT;
}

static bool rule_matches(const struct mon_rule *rule, const struct mon_sess *s,
			 const struct evpn_mon_route *r)
{
	if (rule->orig_plist && !plist_permits(rule->orig_plist, r->orig_ip, 4))
		return false;
	if (rule->vni && rule->vni != s->vni)
		return false;
	if (rule->hid_lo
	    && (r->dest != EVPN_MON_DEST_SERVER || r->host_id < rule->hid_lo
		|| r->host_id > rule->hid_hi))
		return false;
	if (rule->coll_plist
	    && (r->dest != EVPN_MON_DEST_COLLECTOR
		|| !plist_permits(rule->coll_plist, r->server_ip.addr,
				  r->server_ip.len)))
		return false;
	if (rule->mac_acl
	    && (!r->host_mac_len || !acl_permits_mac(rule->mac_acl, r->host_mac)))
		return false;
	if (rule->hip_plist
	    && !plist_permits(rule->hip_plist, r->host_ip.addr, r->host_ip.len))
		return false;
	return true;
}

/* The policy's verdict on s: permitted or not, with the cause and rule. */
static bool policy_eval(const struct mon_sess *s, uint8_t *cause,
			uint16_t *rule)
{
	struct evpn_mon_route r;
	struct listnode *node;
	struct mon_rule *ru;

	*rule = 0;
	if (s->local) {
		*cause = EVPN_MON_CAUSE_LOCAL;
		return true;
	}
	evpn_mon_sess_route(s, &r);
	for (ALL_LIST_ELEMENTS_RO(imp.rules, node, ru))
		if (rule_matches(ru, s, &r)) {
			*cause = EVPN_MON_CAUSE_RULE;
			*rule = ru->seq;
			return ru->permit;
		}
	*cause = EVPN_MON_CAUSE_DEFAULT;
	return !imp.default_deny;
}

/* ------------------------------------------------------------------ */
/* States and counts                                                    */
/* ------------------------------------------------------------------ */

static void pending_add(struct mon_sess *s)
{
	if (s->imp.pending)
		return;
	s->imp.prev_state = s->imp.fresh ? STATE_NONE : s->imp.state;
	s->imp.pending = listnode_add(imp.pending, s);
}

static void set_state(struct mon_sess *s, uint8_t state, uint8_t cause,
		      uint16_t rule)
{
	struct mon_orig *o = s->imp.orig;

	if (s->imp.state == state && s->imp.cause == cause
	    && s->imp.rule == rule)
		return;
	pending_add(s);
	if (s->imp.state != state) {
		switch (s->imp.state) {
		case EVPN_MON_IMPORT_INSTALLED:
			imp.installed--;
			o->installed--;
			break;
		case EVPN_MON_IMPORT_DENIED:
			imp.denied--;
			o->denied--;
			break;
		case EVPN_MON_IMPORT_OVER_LIMIT:
			imp.over--;
			o->over--;
			mon_wait_del(&o->wait, s);
			mon_waitall_del(&imp.waitall, s);
			break;
		}
		switch (state) {
		case EVPN_MON_IMPORT_INSTALLED:
			imp.installed++;
			o->installed++;
			break;
		case EVPN_MON_IMPORT_DENIED:
			imp.denied++;
			o->denied++;
			break;
		case EVPN_MON_IMPORT_OVER_LIMIT:
			imp.over++;
			o->over++;
			s->imp.wait_local = s->local;
			mon_wait_add(&o->wait, s);
			mon_waitall_add_tail(&imp.waitall, s);
			break;
		}
		if (s->imp.state == EVPN_MON_IMPORT_INSTALLED
		    || state == EVPN_MON_IMPORT_INSTALLED)
			orig_warn_mark(o);
		/* its room or its first waiting session may have changed */
		orig_ready_update(o);
		if (state == EVPN_MON_IMPORT_DENIED) {
			struct mon_rule *ru = cause == EVPN_MON_CAUSE_RULE
						      ? rule_find(rule)
						      : NULL;

			imp.denials++;
			if (ru)
				ru->denials++;
			else
				imp.default_denials++;
		}
	}
	s->imp.state = state;
	s->imp.cause = cause;
	s->imp.rule = rule;
}

/* Apply the policy's verdict on s. A permitted session not installed yet
 * waits for admission (the settle's admission step installs it if it
 * fits). */
static void eval_apply(struct mon_sess *s)
{
	uint8_t cause;
	uint16_t rule;

	if (!policy_eval(s, &cause, &rule)) {
		s->imp.permitted = false;
		set_state(s, EVPN_MON_IMPORT_DENIED, cause, rule);
		return;
	}
	s->imp.permitted = true;
	s->imp.policy_cause = cause;
	s->imp.policy_rule = rule;
	switch (s->imp.state) {
	case EVPN_MON_IMPORT_INSTALLED:
		/* still installed; the reason may be another rule now */
		set_state(s, EVPN_MON_IMPORT_INSTALLED, cause, rule);
		break;
	case EVPN_MON_IMPORT_OVER_LIMIT:
		break;
	default: /* new, or denied until now */
		set_state(s, EVPN_MON_IMPORT_OVER_LIMIT, EVPN_MON_CAUSE_LIMIT,
			  0);
		break;
	}
}

void evpn_mon_import_arrive(struct mon_sess *s)
{
	s->imp.arrival = ghost_take(s);
	s->imp.state = STATE_NONE;
	s->imp.fresh = true;
	s->imp.orig = orig_get(s->key.orig_ip);
	s->imp.orig->held++;
	mon_held_add(&imp.held, s);
	pending_add(s);
	eval_apply(s);
}

void evpn_mon_import_changed(struct mon_sess *s)
{
	struct mon_orig *o = s->imp.orig;

	/* configured here since, or no longer: its place among the waiting */
	if (s->imp.state == EVPN_MON_IMPORT_OVER_LIMIT
	    && s->imp.wait_local != s->local) {
		mon_wait_del(&o->wait, s);
		s->imp.wait_local = s->local;
		mon_wait_add(&o->wait, s);
		orig_ready_update(o);
	}
	/* the payload (a collector's IP) or the local flag may have
	 * changed: what the policy sees */
	eval_apply(s);
}

void evpn_mon_import_leave(struct mon_sess *s)
{
	struct mon_orig *o = s->imp.orig;

	if (!o)
		return; /* never arrived */
	s->imp.fresh = false;
	set_state(s, STATE_NONE, 0, 0);
	if (s->imp.pending) {
		list_delete_node(imp.pending, s->imp.pending);
		s->imp.pending = NULL;
	}
	mon_held_del(&imp.held, s);
	ghost_remember(s);
	o->held--;
	s->imp.orig = NULL;
	orig_put(o);
}

/* ------------------------------------------------------------------ */
/* Settle                                                               */
/* ------------------------------------------------------------------ */

/* Lowered limits: the newest installed sessions wait, the received ones
 * before those configured on this leaf. Only after a limit change: it
 * walks every held session. */
static void enforce_limits(void)
{
	struct mon_sess *s;
	int pass;

	for (pass = 0; pass < 2; pass++)
		frr_rev_each (mon_held, &imp.held, s) {
			if (s->imp.state != EVPN_MON_IMPORT_INSTALLED
			    || s->local != (pass == 1))
				continue;
			if (imp.installed > imp.max)
				set_state(s, EVPN_MON_IMPORT_OVER_LIMIT,
					  EVPN_MON_CAUSE_LIMIT, 0);
			else if (s->imp.orig->installed > imp.max_orig)
				set_state(s, EVPN_MON_IMPORT_OVER_LIMIT,
					  EVPN_MON_CAUSE_LIMIT_ORIG, 0);
		}
}

/* Install waiting sessions while they fit: local ones first, then the
 * oldest. imp.ready holds the originators with room and a waiting
 * session, by their first one: each admission costs a tree operation,
 * whatever the number of originators. */
static void admit(void)
{
	while (imp.installed < imp.max) {
		struct mon_orig *o = mon_ready_first(&imp.ready);
		struct mon_sess *head;

		if (!o)
			break;
		head = mon_wait_first(&o->wait);
		set_state(head, EVPN_MON_IMPORT_INSTALLED,
			  head->imp.policy_cause, head->imp.policy_rule);
	}
}

/* After a per-originator limit change: every originator's room. */
static void origs_recheck(void)
{
	struct listnode *node;
	struct mon_orig *o;

	for (ALL_LIST_ELEMENTS_RO(imp.origs, node, o)) {
		orig_ready_update(o);
		orig_warn_mark(o);
	}
}

/* The global threshold, and those of the originators whose installed
 * count changed. */
static void warn_thresholds(void)
{
	struct mon_orig *o;
	bool over;

	over = (uint64_t)imp.installed * 100
	       >= (uint64_t)imp.max * imp.max_warn;
	if (over && !imp.warned)
		zlog_warn("evpn-monitor: import: %u sessions installed, at or above %u%% of maximum-sessions %u",
			  imp.installed, imp.max_warn, imp.max);
	imp.warned = over;
	while ((o = listnode_head(imp.warn_check))) {
		list_delete_node(imp.warn_check, o->warn_node);
		o->warn_node = NULL;
		over = (uint64_t)o->installed * 100
		       >= (uint64_t)imp.max_orig * imp.max_orig_warn;
		if (over && !o->warned)
			zlog_warn("evpn-monitor: import: %u sessions installed from originator %pI4, at or above %u%% of maximum-sessions per-originator %u",
				  o->installed, &o->ip, imp.max_orig_warn,
				  imp.max_orig);
		o->warned = over;
	}
}

/* The waiting sessions' cause is the global limit while it is reached,
 * else their originator's (after admission, a waiting session with
 * global room has an originator without room). When that flips, or a
 * limit's value (which the reason quotes) changes, every waiting session
 * gets its reason again: a cost in the number of waiting sessions, only
 * then. */
static void wait_reasons(void)
{
	bool global = imp.installed >= imp.max;
	uint8_t cause = global ? EVPN_MON_CAUSE_LIMIT
			       : EVPN_MON_CAUSE_LIMIT_ORIG;
	struct mon_sess *s;

	if (global == imp.wait_global && !imp.max_changed
	    && !imp.max_orig_changed)
		return;
	frr_each (mon_waitall, &imp.waitall, s) {
		bool text = s->imp.cause != cause
			    || (cause == EVPN_MON_CAUSE_LIMIT
				&& imp.max_changed)
			    || (cause == EVPN_MON_CAUSE_LIMIT_ORIG
				&& imp.max_orig_changed);

		if (!text)
			continue;
		s->imp.cause = cause;
		s->imp.resend = true;
		evpn_mon_feed_touch(s);
	}
	imp.wait_global = global;
	imp.max_changed = imp.max_orig_changed = false;
}

static void log_decision(struct mon_sess *s)
{
	char sid[EVPN_MON_SESSION_ID_MAX], why[128];
	struct evpn_mon_route r;

	if (!import_log_ok())
		return;
	evpn_mon_sess_route(s, &r);
	evpn_mon_session_id(&r, sid, sizeof(sid));
	evpn_mon_import_reason(s, why, sizeof(why));
	if (s->imp.prev_state == STATE_NONE) {
		if (s->imp.state == EVPN_MON_IMPORT_DENIED)
			zlog_info("evpn-monitor: import: session %s denied (%s)",
				  sid, why);
		else
			zlog_warn("evpn-monitor: import: session %s refused (%s)",
				  sid, why);
		return;
	}
	zlog_info("evpn-monitor: import: session %s: %s -> %s (%s)", sid,
		  evpn_mon_import_state_name(s->imp.prev_state),
		  evpn_mon_import_state_name(s->imp.state), why);
}

void evpn_mon_import_settle(void)
{
	struct mon_sess *s;

	if (imp.reeval) {
		imp.reeval = false;
		imp.reevals++;
		frr_each (mon_held, &imp.held, s)
			eval_apply(s);
	}
	if (imp.limits_lowered || imp.installed > imp.max) {
		imp.limits_lowered = false;
		enforce_limits();
	}
	if (imp.origs_recheck) {
		imp.origs_recheck = false;
		origs_recheck();
	}
	admit();
	wait_reasons();

	while ((s = listnode_head(imp.pending))) {
		list_delete_node(imp.pending, s->imp.pending);
		s->imp.pending = NULL;
		/* a waiting session: which limit holds it now */
		if (s->imp.state == EVPN_MON_IMPORT_OVER_LIMIT)
			s->imp.cause = imp.installed >= imp.max
					       ? EVPN_MON_CAUSE_LIMIT
					       : EVPN_MON_CAUSE_LIMIT_ORIG;
		evpn_mon_feed_touch(s);
		if (s->imp.state != s->imp.prev_state) {
			if (s->imp.state == EVPN_MON_IMPORT_OVER_LIMIT)
				imp.refusals++;
			if (s->imp.prev_state != STATE_NONE)
				imp.flips++;
			if (s->imp.prev_state != STATE_NONE
			    || s->imp.state != EVPN_MON_IMPORT_INSTALLED)
				log_decision(s);
		}
		s->imp.fresh = false;
	}
	warn_thresholds();
}

/* ------------------------------------------------------------------ */
/* Reasons                                                              */
/* ------------------------------------------------------------------ */

const char *evpn_mon_import_state_name(uint8_t state)
{
	switch (state) {
	case EVPN_MON_IMPORT_INSTALLED:
		return "installed";
	case EVPN_MON_IMPORT_DENIED:
		return "denied";
	case EVPN_MON_IMPORT_OVER_LIMIT:
		return "over-limit";
	}
	return "new";
}

/* snprintf(buf, size, "%s%u%s", head, num, tail) without printf: the show
 * asks for the reason of every session it lists. */
static void reason_fmt(char *buf, size_t size, const char *head, bool has_num,
		       unsigned int num, const char *tail)
{
	char tmp[128], digits[10];
	size_t n = 0, k = 0, len;

	len = MIN(strlen(head), sizeof(tmp) - 1);
	memcpy(tmp, head, len);
	n = len;
	if (has_num) {
		do {
			digits[k++] = '0' + num % 10;
			num /= 10;
		} while (num);
		while (k && n < sizeof(tmp) - 1)
			tmp[n++] = digits[--k];
	}
	len = MIN(strlen(tail), sizeof(tmp) - 1 - n);
	memcpy(tmp + n, tail, len);
	n += len;
	if (!size)
		return;
	n = MIN(n, size - 1);
	memcpy(buf, tmp, n);
	buf[n] = '\0';
}

void evpn_mon_import_reason(const struct mon_sess *s, char *buf, size_t size)
{
	bool denied = s->imp.state == EVPN_MON_IMPORT_DENIED;

	switch (s->imp.cause) {
	case EVPN_MON_CAUSE_LOCAL:
		reason_fmt(buf, size, "configured on this leaf", false, 0, "");
		break;
	case EVPN_MON_CAUSE_RULE:
		reason_fmt(buf, size,
			   denied ? "denied by rule " : "permitted by rule ",
			   true, s->imp.rule, "");
		break;
	case EVPN_MON_CAUSE_DEFAULT:
		reason_fmt(buf, size,
			   denied ? "denied by default" : "permitted by default",
			   false, 0, "");
		break;
	case EVPN_MON_CAUSE_LIMIT:
		reason_fmt(buf, size, "maximum-sessions ", true, imp.max,
			   " reached");
		break;
	case EVPN_MON_CAUSE_LIMIT_ORIG:
		snprintfrr(buf, size,
			   "maximum-sessions per-originator %u reached for %pI4",
			   imp.max_orig,
			   s->imp.orig ? &s->imp.orig->ip : NULL);
		break;
	default:
		reason_fmt(buf, size, "-", false, 0, "");
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Changes that re-evaluate                                             */
/* ------------------------------------------------------------------ */

static void import_reevaluate(void)
{
	imp.reeval = true;
	evpn_mon_feed_kick();
}

static bool rule_names(const struct mon_rule *r, const char *name)
{
	return (r->orig_plist && !strcmp(r->orig_plist, name))
	       || (r->coll_plist && !strcmp(r->coll_plist, name))
	       || (r->mac_acl && !strcmp(r->mac_acl, name))
	       || (r->hip_plist && !strcmp(r->hip_plist, name));
}

/* A list changed: re-evaluate if a rule names it. Only a flag and a timer
 * here: the list may be half updated while its hooks run. */
static void list_changed(const char *name)
{
	struct listnode *node;
	struct mon_rule *r;

	if (!imp.rules || !name)
		return;
	for (ALL_LIST_ELEMENTS_RO(imp.rules, node, r))
		if (rule_names(r, name)) {
			import_reevaluate();
			return;
		}
}

static int import_plist_changed(struct prefix_list *plist)
{
	list_changed(prefix_list_name(plist));
	return 0;
}

static int import_acl_changed(struct access_list *acl)
{
	list_changed(acl->name);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Commands                                                             */
/* ------------------------------------------------------------------ */

#define MONITOR_STR "evpn-monitor: monitoring sessions\n"
#define IMPORT_STR "Import policy and limits of received sessions\n"
#define RULE_STR "Import rule (the lowest-numbered matching rule decides)\n"
#define MAXS_STR "Maximum number of installed sessions\n"
#define WARN_STR "Log a warning at this share of the maximum\n" \
	"Percent of the maximum\n"

static bool import_bgp_ok(struct vty *vty)
{
	struct bgp *bgp = VTY_GET_CONTEXT(bgp);

	if (!bgp) {
		vty_out(vty, "%% No BGP instance\n");
		return false;
	}
	if (bgp->inst_type != BGP_INSTANCE_TYPE_DEFAULT) {
		vty_out(vty,
			"%% The import policy is configured in the default BGP instance\n");
		return false;
	}
	return true;
}

static char *dup_or_null(const char *s)
{
	return s ? XSTRDUP(MTYPE_EVPN_MON_IMPORT, s) : NULL;
}

/* `no monitor import rule N`, in either form */
static int rule_delete(struct vty *vty, long seq)
{
	struct mon_rule *r = rule_find(seq);

	if (!r) {
		vty_out(vty, "%% No monitor import rule %ld\n", seq);
		return CMD_WARNING_CONFIG_FAILED;
	}
	listnode_delete(imp.rules, r);
	rule_free(r);
	import_reevaluate();
	return CMD_SUCCESS;
}

DEFPY(evpn_mon_import_rule, evpn_mon_import_rule_cmd,
      "[no$no] monitor import rule (1-65535)$seq <permit|deny>$action [originator prefix-list WORD$orig_pl] [vni (1-16777215)$vni] [host-id (1-65535)$hid_lo [(1-65535)$hid_hi]] [collector prefix-list WORD$coll_pl] [host-mac access-list WORD$mac_acl] [host-ip prefix-list WORD$hip_pl]",
      NO_STR MONITOR_STR IMPORT_STR RULE_STR "Rule number\n"
      "Install the sessions it matches\n"
      "Do not install the sessions it matches\n"
      "The originating router's IP address\n"
      "Match it against a prefix-list\n" "Prefix-list name\n"
      "The session's VNI\n" "VNI number\n"
      "The monitoring server's HOST ID (server sessions only)\n"
      "HOST ID, or the first of a range\n" "The last HOST ID of the range\n"
      "The ERSPAN collector's IP address (collector sessions only)\n"
      "Match it against a prefix-list\n" "Prefix-list name\n"
      "The monitored host's MAC address\n"
      "Match it against a MAC access-list\n" "MAC access-list name\n"
      "The monitored host's IP address\n"
      "Match it against a prefix-list\n" "Prefix-list name\n")
{
	struct mon_rule *r, *nr;

	if (!import_bgp_ok(vty))
		return CMD_WARNING_CONFIG_FAILED;
	if (no) {
		return rule_delete(vty, seq);
	}
	if (hid_hi_str && hid_hi < hid_lo) {
		vty_out(vty,
			"%% host-id %ld %ld: the range's last HOST ID is below its first\n",
			hid_lo, hid_hi);
		return CMD_WARNING_CONFIG_FAILED;
	}
	if (hid_lo_str && coll_pl) {
		vty_out(vty,
			"%% host-id matches server sessions and collector matches collector sessions: a rule with both would match nothing\n");
		return CMD_WARNING_CONFIG_FAILED;
	}

	/* Checked: replace the rule with that number as a whole. */
	nr = XCALLOC(MTYPE_EVPN_MON_IMPORT, sizeof(*nr));
	nr->seq = seq;
	nr->permit = !strcmp(action, "permit");
	nr->orig_plist = dup_or_null(orig_pl);
	nr->vni = vni_str ? vni : 0;
	if (hid_lo_str) {
		nr->hid_lo = hid_lo;
		nr->hid_hi = hid_hi_str ? hid_hi : hid_lo;
	}
	nr->coll_plist = dup_or_null(coll_pl);
	nr->mac_acl = dup_or_null(mac_acl);
	nr->hip_plist = dup_or_null(hip_pl);
	r = rule_find(seq);
	if (r && rule_same(r, nr)) {
		/* the same rule again (a config reload): nothing changes */
		rule_free(nr);
		return CMD_SUCCESS;
	}
	if (r) {
		/* the rule's number keeps its denials */
		nr->denials = r->denials;
		listnode_delete(imp.rules, r);
		rule_free(r);
	}
	listnode_add_sort(imp.rules, nr);
	import_reevaluate();
	return CMD_SUCCESS;
}

DEFPY(no_evpn_mon_import_rule, no_evpn_mon_import_rule_cmd,
      "no monitor import rule (1-65535)$seq",
      NO_STR MONITOR_STR IMPORT_STR RULE_STR "Rule number\n")
{
	if (!import_bgp_ok(vty))
		return CMD_WARNING_CONFIG_FAILED;
	return rule_delete(vty, seq);
}

DEFPY(evpn_mon_import_default, evpn_mon_import_default_cmd,
      "[no$no] monitor import default <permit|deny>$action",
      NO_STR MONITOR_STR IMPORT_STR
      "What happens to a session no rule matches (default: permit)\n"
      "Install it\n" "Do not install it\n")
{
	bool deny;

	if (!import_bgp_ok(vty))
		return CMD_WARNING_CONFIG_FAILED;
	deny = no ? false : !strcmp(action, "deny");
	if (deny != imp.default_deny) {
		imp.default_deny = deny;
		import_reevaluate();
	}
	return CMD_SUCCESS;
}

DEFPY(no_evpn_mon_import_default, no_evpn_mon_import_default_cmd,
      "no monitor import default",
      NO_STR MONITOR_STR IMPORT_STR
      "What happens to a session no rule matches (default: permit)\n")
{
	if (!import_bgp_ok(vty))
		return CMD_WARNING_CONFIG_FAILED;
	if (imp.default_deny) {
		imp.default_deny = false;
		import_reevaluate();
	}
	return CMD_SUCCESS;
}

static void import_set_limit(uint32_t *max, uint32_t *warn, uint32_t nmax,
			     uint32_t nwarn)
{
	bool orig = max == &imp.max_orig;

	if (nmax == *max && nwarn == *warn)
		return; /* the same again: nothing to do */
	if (nmax < *max)
		imp.limits_lowered = true;
	if (nmax != *max) {
		if (orig)
			imp.max_orig_changed = true;
		else
			imp.max_changed = true;
	}
	if (orig)
		imp.origs_recheck = true;
	*max = nmax;
	*warn = nwarn;
	/* a limit raised installs waiting sessions, a lowered one sets the
	 * newest waiting; both at the next walk */
	evpn_mon_feed_kick();
}

DEFPY(evpn_mon_import_max, evpn_mon_import_max_cmd,
      "monitor import maximum-sessions (1-4294967295)$max [warning-threshold (1-100)$warn]",
      MONITOR_STR IMPORT_STR MAXS_STR "Maximum number of sessions\n" WARN_STR)
{
	if (!import_bgp_ok(vty))
		return CMD_WARNING_CONFIG_FAILED;
	import_set_limit(&imp.max, &imp.max_warn, max,
			 warn_str ? warn : IMPORT_WARN_DEFAULT);
	return CMD_SUCCESS;
}

DEFPY(no_evpn_mon_import_max, no_evpn_mon_import_max_cmd,
      "no monitor import maximum-sessions [(1-4294967295) [warning-threshold (1-100)]]",
      NO_STR MONITOR_STR IMPORT_STR MAXS_STR "Maximum number of sessions\n"
      WARN_STR)
{
	if (!import_bgp_ok(vty))
		return CMD_WARNING_CONFIG_FAILED;
	import_set_limit(&imp.max, &imp.max_warn, IMPORT_MAX_DEFAULT,
			 IMPORT_WARN_DEFAULT);
	return CMD_SUCCESS;
}

DEFPY(evpn_mon_import_max_orig, evpn_mon_import_max_orig_cmd,
      "monitor import maximum-sessions per-originator (1-4294967295)$max [warning-threshold (1-100)$warn]",
      MONITOR_STR IMPORT_STR MAXS_STR
      "Per originating router\n" "Maximum number of sessions\n" WARN_STR)
{
	if (!import_bgp_ok(vty))
		return CMD_WARNING_CONFIG_FAILED;
	import_set_limit(&imp.max_orig, &imp.max_orig_warn, max,
			 warn_str ? warn : IMPORT_WARN_DEFAULT);
	return CMD_SUCCESS;
}

DEFPY(no_evpn_mon_import_max_orig, no_evpn_mon_import_max_orig_cmd,
      "no monitor import maximum-sessions per-originator [(1-4294967295) [warning-threshold (1-100)]]",
      NO_STR MONITOR_STR IMPORT_STR MAXS_STR
      "Per originating router\n" "Maximum number of sessions\n" WARN_STR)
{
	if (!import_bgp_ok(vty))
		return CMD_WARNING_CONFIG_FAILED;
	import_set_limit(&imp.max_orig, &imp.max_orig_warn,
			 IMPORT_MAX_ORIG_DEFAULT, IMPORT_WARN_DEFAULT);
	return CMD_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Show and config write                                                */
/* ------------------------------------------------------------------ */

static void rule_str(const struct mon_rule *r, char *buf, size_t size)
{
	size_t n;

	n = snprintf(buf, size, "%u %s", r->seq, r->permit ? "permit" : "deny");
	if (r->orig_plist && n < size)
		n += snprintf(buf + n, size - n, " originator prefix-list %s",
			      r->orig_plist);
	if (r->vni && n < size)
		n += snprintf(buf + n, size - n, " vni %u", r->vni);
	if (r->hid_lo && n < size) {
		n += snprintf(buf + n, size - n, " host-id %u", r->hid_lo);
		if (r->hid_hi != r->hid_lo && n < size)
			n += snprintf(buf + n, size - n, " %u", r->hid_hi);
	}
	if (r->coll_plist && n < size)
		n += snprintf(buf + n, size - n, " collector prefix-list %s",
			      r->coll_plist);
	if (r->mac_acl && n < size)
		n += snprintf(buf + n, size - n, " host-mac access-list %s",
			      r->mac_acl);
	if (r->hip_plist && n < size)
		snprintf(buf + n, size - n, " host-ip prefix-list %s",
			 r->hip_plist);
}

int evpn_mon_import_config_write(struct vty *vty)
{
	struct listnode *node;
	struct mon_rule *r;
	char buf[512];

	for (ALL_LIST_ELEMENTS_RO(imp.rules, node, r)) {
		rule_str(r, buf, sizeof(buf));
		vty_out(vty, "  monitor import rule %s\n", buf);
	}
	if (imp.default_deny)
		vty_out(vty, "  monitor import default deny\n");
	if (imp.max != IMPORT_MAX_DEFAULT || imp.max_warn != IMPORT_WARN_DEFAULT) {
		vty_out(vty, "  monitor import maximum-sessions %u", imp.max);
		if (imp.max_warn != IMPORT_WARN_DEFAULT)
			vty_out(vty, " warning-threshold %u", imp.max_warn);
		vty_out(vty, "\n");
	}
	if (imp.max_orig != IMPORT_MAX_ORIG_DEFAULT
	    || imp.max_orig_warn != IMPORT_WARN_DEFAULT) {
		vty_out(vty, "  monitor import maximum-sessions per-originator %u",
			imp.max_orig);
		if (imp.max_orig_warn != IMPORT_WARN_DEFAULT)
			vty_out(vty, " warning-threshold %u",
				imp.max_orig_warn);
		vty_out(vty, "\n");
	}
	return 0;
}

/* Sessions a rule decides now (denied by it, or permitted by it). */
static uint32_t rule_sessions(uint16_t seq)
{
	struct mon_sess *s;
	uint32_t n = 0;

	frr_each (mon_held, &imp.held, s) {
		uint8_t cause = s->imp.state == EVPN_MON_IMPORT_OVER_LIMIT
					? s->imp.policy_cause
					: s->imp.cause;
		uint16_t rule = s->imp.state == EVPN_MON_IMPORT_OVER_LIMIT
					? s->imp.policy_rule
					: s->imp.rule;

		if (cause == EVPN_MON_CAUSE_RULE && rule == seq)
			n++;
	}
	return n;
}

static int orig_sort(const void **a, const void **b)
{
	const struct mon_orig *x = *a, *y = *b;

	return numcmp(ntohl(x->ip.s_addr), ntohl(y->ip.s_addr));
}

DEFPY(show_bgp_evpn_monitor_import, show_bgp_evpn_monitor_import_cmd,
      "show bgp l2vpn evpn monitor import [json$uj]",
      SHOW_STR BGP_STR L2VPN_HELP_STR EVPN_HELP_STR
      "evpn-monitor monitoring sessions\n"
      "Import policy, limits and decisions\n" JSON_STR)
{
	struct listnode *node;
	struct mon_rule *r;
	struct mon_orig *o;
	struct list *sorted = list_new();
	char buf[512];
	/* all of them, also those of rules since removed */
	uint64_t denials = imp.denials;

	for (ALL_LIST_ELEMENTS_RO(imp.origs, node, o))
		listnode_add(sorted, o);
	list_sort(sorted, orig_sort);

	if (uj) {
		json_object *json = json_object_new_object();
		json_object *jrules = json_object_new_array();
		json_object *jsess = json_object_new_object();
		json_object *jorigs = json_object_new_object();
		json_object *jc = json_object_new_object();
		json_object *jby = json_object_new_object();

		for (ALL_LIST_ELEMENTS_RO(imp.rules, node, r)) {
			json_object *j = json_object_new_object();

			json_object_int_add(j, "rule", r->seq);
			json_object_string_add(j, "action",
					       r->permit ? "permit" : "deny");
			if (r->orig_plist)
				json_object_string_add(j, "originatorPrefixList",
						       r->orig_plist);
			if (r->vni)
				json_object_int_add(j, "vni", r->vni);
			if (r->hid_lo) {
				json_object_int_add(j, "hostIdFrom", r->hid_lo);
				json_object_int_add(j, "hostIdTo", r->hid_hi);
			}
			if (r->coll_plist)
				json_object_string_add(j, "collectorPrefixList",
						       r->coll_plist);
			if (r->mac_acl)
				json_object_string_add(j, "hostMacAccessList",
						       r->mac_acl);
			if (r->hip_plist)
				json_object_string_add(j, "hostIpPrefixList",
						       r->hip_plist);
			json_object_int_add(j, "sessions", rule_sessions(r->seq));
			json_object_int_add(j, "denials", r->denials);
			json_object_array_add(jrules, j);
			snprintf(buf, sizeof(buf), "%u", r->seq);
			json_object_int_add(jby, buf, r->denials);
		}
		json_object_int_add(jby, "default", imp.default_denials);
		json_object_object_add(json, "rules", jrules);
		json_object_string_add(json, "default",
				       imp.default_deny ? "deny" : "permit");
		json_object_int_add(json, "maximumSessions", imp.max);
		json_object_int_add(json, "warningThreshold", imp.max_warn);
		json_object_int_add(json, "maximumSessionsPerOriginator",
				    imp.max_orig);
		json_object_int_add(json, "perOriginatorWarningThreshold",
				    imp.max_orig_warn);
		json_object_int_add(jsess, "held", mon_held_count(&imp.held));
		json_object_int_add(jsess, "installed", imp.installed);
		json_object_int_add(jsess, "denied", imp.denied);
		json_object_int_add(jsess, "overLimit", imp.over);
		json_object_object_add(json, "sessions", jsess);
		for (ALL_LIST_ELEMENTS_RO(sorted, node, o)) {
			json_object *j = json_object_new_object();

			json_object_int_add(j, "installed", o->installed);
			json_object_int_add(j, "denied", o->denied);
			json_object_int_add(j, "overLimit", o->over);
			snprintfrr(buf, sizeof(buf), "%pI4", &o->ip);
			json_object_object_add(jorigs, buf, j);
		}
		json_object_object_add(json, "originators", jorigs);
		json_object_int_add(jc, "denials", denials);
		json_object_object_add(jc, "denialsByRule", jby);
		json_object_int_add(jc, "overLimitRefusals", imp.refusals);
		json_object_int_add(jc, "reEvaluations", imp.reevals);
		json_object_int_add(jc, "stateChanges", imp.flips);
		json_object_object_add(json, "counters", jc);
		list_delete(&sorted);
		vty_json(vty, json);
		return CMD_SUCCESS;
	}

	vty_out(vty,
		"Import policy (the lowest-numbered matching rule decides):\n");
	for (ALL_LIST_ELEMENTS_RO(imp.rules, node, r)) {
		rule_str(r, buf, sizeof(buf));
		vty_out(vty, "  rule %s\n      %u session(s), %" PRIu64 " denial(s)\n",
			buf, rule_sessions(r->seq), r->denials);
	}
	vty_out(vty, "  default %s\n      %" PRIu64 " denial(s)\n",
		imp.default_deny ? "deny" : "permit", imp.default_denials);
	vty_out(vty,
		"Limits: maximum-sessions %u (warning at %u%%), per originator %u (warning at %u%%)\n",
		imp.max, imp.max_warn, imp.max_orig, imp.max_orig_warn);
	vty_out(vty,
		"Sessions: %zu held, %u installed, %u denied, %u over limit\n",
		mon_held_count(&imp.held), imp.installed, imp.denied, imp.over);
	if (listcount(sorted)) {
		vty_out(vty, "  %-15s %10s %10s %10s\n", "Originator",
			"Installed", "Denied", "Over limit");
		for (ALL_LIST_ELEMENTS_RO(sorted, node, o))
			vty_out(vty, "  %-15pI4 %10u %10u %10u\n", &o->ip,
				o->installed, o->denied, o->over);
	}
	vty_out(vty,
		"Counters: %" PRIu64 " denials, %" PRIu64
		" over-limit refusals, %" PRIu64 " re-evaluations, %" PRIu64
		" state changes\n",
		denials, imp.refusals, imp.reevals, imp.flips);
	list_delete(&sorted);
	return CMD_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                           */
/* ------------------------------------------------------------------ */

void evpn_mon_import_init(void)
{
	imp.rules = list_new();
	imp.rules->cmp = rule_cmp;
	imp.max = IMPORT_MAX_DEFAULT;
	imp.max_warn = IMPORT_WARN_DEFAULT;
	imp.max_orig = IMPORT_MAX_ORIG_DEFAULT;
	imp.max_orig_warn = IMPORT_WARN_DEFAULT;
	mon_held_init(&imp.held);
	mon_waitall_init(&imp.waitall);
	mon_ready_init(&imp.ready);
	mon_ghosts_init(&imp.ghosts);
	imp.orig_hash = hash_create_size(64, orig_key, orig_eq,
					 "evpn-monitor originators");
	imp.ghost_hash = hash_create_size(64, ghost_key, ghost_eq,
					  "evpn-monitor withdrawn ranks");
	imp.origs = list_new();
	imp.warn_check = list_new();
	imp.pending = list_new();
	hook_register(prefix_list_changed, import_plist_changed);
	hook_register(access_list_changed, import_acl_changed);
}

/* After the feed's fini (which lets every session leave). */
void evpn_mon_import_fini(void)
{
	struct listnode *node, *nnode;
	struct mon_rule *r;
	struct mon_ghost *g;

	hook_unregister(prefix_list_changed, import_plist_changed);
	hook_unregister(access_list_changed, import_acl_changed);
	THREAD_OFF(ilog.t_flush);
	if (!imp.rules)
		return;
	for (ALL_LIST_ELEMENTS(imp.rules, node, nnode, r))
		rule_free(r);
	list_delete(&imp.rules);
	list_delete(&imp.pending);
	list_delete(&imp.origs);
	list_delete(&imp.warn_check);
	hash_free(imp.orig_hash);
	imp.orig_hash = NULL;
	while ((g = mon_ghosts_first(&imp.ghosts)))
		ghost_free(g);
	hash_free(imp.ghost_hash);
	imp.ghost_hash = NULL;
	mon_ghosts_fini(&imp.ghosts);
	mon_ready_fini(&imp.ready);
	mon_waitall_fini(&imp.waitall);
	mon_held_fini(&imp.held);
}

void evpn_mon_import_vty_init(void)
{
	install_element(BGP_EVPN_NODE, &evpn_mon_import_rule_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_import_rule_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_import_default_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_import_default_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_import_max_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_import_max_cmd);
	install_element(BGP_EVPN_NODE, &evpn_mon_import_max_orig_cmd);
	install_element(BGP_EVPN_NODE, &no_evpn_mon_import_max_orig_cmd);
	install_element(VIEW_NODE, &show_bgp_evpn_monitor_import_cmd);
}
