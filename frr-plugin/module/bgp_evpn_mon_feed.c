// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * evpn-monitor bgpd module: the session feed to the local fpm-consumer.
 *
 * ZeroMQ ROUTER socket in bgpd's event loop (lib/frr_zmq). A consumer's
 * DEALER sends Request{SUBSCRIBE}; it gets one Snapshot, then Delta messages
 * with consecutive sequence numbers, and a Heartbeat every second
 * (docs/feed-protocol.md). Feed version 4: sessions carry their options and
 * session id, sessions to ERSPAN collectors have a collector_id, and every
 * session this VTEP's import decision (bgp_evpn_mon_import.c).
 *
 * A consumer that asked for a version below 4 would install a session the
 * policy denied or a limit refused: it is sent the installed sessions only
 * (a decision that flips is an ADD or a DEL for it). One below 3 would take
 * a collector session for a server session without a server: it does not
 * get them either. Each kind of subscriber has its deltas and heartbeats
 * numbered in a sequence space of its own (the changes of what it is
 * sent), so that it sees no gap where something it is not sent changed.
 *
 * What is published is the best path of every monitor route in every live L2
 * VNI table, read from bgpd's tables (level-triggered) and compared with what
 * was published before. Changes of single routes mark (VNI, prefix) dirty and
 * only those are re-read; VNI events re-read everything. Either way the
 * published set converges on the tables' state. Messages:
 * proto/monitor_feed.proto.
 */
#include <zebra.h>
#include <zmq.h>

#include "lib/frr_zmq.h"
#include "lib/hash.h"
#include "lib/jhash.h"
#include "lib/json.h"
#include "lib/memory.h"
#include "lib/monotime.h"
#include "lib/thread.h"
#include "lib/vty.h"

#include "bgpd/bgpd.h"
#include "bgpd/bgp_attr.h"
#include "bgpd/bgp_route.h"
#include "bgpd/bgp_rd.h"
#include "bgpd/bgp_table.h"
#include "bgpd/bgp_evpn.h"
#include "bgpd/bgp_evpn_private.h"
#include "bgpd/bgp_evpn_ext.h"

#include "bgpd/bgp_evpn_mon.h"
#include "bgpd/monitor_feed.pb-c.h"

DEFINE_MTYPE_STATIC(BGPD, EVPN_MON_FEED, "EVPN monitor feed state");
DEFINE_MTYPE_STATIC(EVPN_MON, EVPN_MON_JOURNAL, "EVPN monitor change journal");

/* The feed version this bgpd fills (proto Version). */
#define FEED_VERSION EVPNMON__FEED__V1__VERSION__VERSION_4
/* The first consumer version that is sent collector sessions. */
#define FEED_VERSION_COLLECTORS EVPNMON__FEED__V1__VERSION__VERSION_3
/* The first consumer version that is sent sessions not installed. */
#define FEED_VERSION_IMPORT EVPNMON__FEED__V1__VERSION__VERSION_4

#define FEED_MAX_SUBSCRIBERS 16
#define FEED_HEARTBEAT_MS 1000
#define FEED_COALESCE_MS 10

/* One published session: struct mon_sess (bgp_evpn_mon.h). */
#define mon_pub mon_sess
#define PUB_SLOT_LEN offsetof(struct mon_pub, rd)
#define PUB_CONTENT_LEN offsetof(struct mon_pub, seen)

/* A (vni, prefix) whose best path may have changed. */
struct mon_dirty {
	uint32_t vni;
	struct prefix_evpn p;
};

/* What a subscriber is sent: every session (version 4 and above), the
 * installed ones (version 3), or the installed server sessions (below 3).
 * Each view has its own sequence. */
enum feed_view {
	VIEW_ALL = 0,
	VIEW_SERVERS = 1,
	VIEW_INSTALLED = 2,
	VIEW__MAX,
};

struct subscriber {
	uint8_t id[256];
	size_t idlen;
	enum feed_view view;
	bool snapshot_due; /* subscribed since the last snapshot it was sent */
};

static struct {
	struct thread_master *master;
	void *sock;
	struct frrzmq_cb *cb;
	struct thread *t_walk;
	struct thread *t_heartbeat;
	struct thread *t_snapshots;
	char endpoint[512];
	uint64_t epoch;
	uint64_t seq[VIEW__MAX];
	struct hash *pub;   /* struct mon_pub, by slot */
	struct hash *dirty; /* struct mon_dirty */
	struct list *touched; /* struct mon_pub: to send at the walk's end */
	bool full;          /* re-read every VNI table */
	struct subscriber subs[FEED_MAX_SUBSCRIBERS];
	size_t nsubs;
	uint64_t tx_messages, tx_drops, snapshots, rx_bad, walks, full_walks;
} feed;

static unsigned int pub_hash(const void *a)
{
	return jhash(a, PUB_SLOT_LEN, 0x4d6f6e31);
}

static bool pub_eq(const void *a, const void *b)
{
	return memcmp(a, b, PUB_SLOT_LEN) == 0;
}

static unsigned int dirty_hash(const void *a)
{
	const struct mon_dirty *d = a;

	return jhash(&d->p.prefix, sizeof(d->p.prefix), d->vni);
}

static bool dirty_eq(const void *a, const void *b)
{
	const struct mon_dirty *x = a, *y = b;

	return x->vni == y->vni && !memcmp(&x->p, &y->p, sizeof(x->p));
}

static bool pub_is_collector(const struct mon_pub *p)
{
	return (p->key.host_id >> 24) == EVPN_MON_DEST_COLLECTOR;
}

static bool view_shows(enum feed_view view, const struct mon_pub *p)
{
	if (view == VIEW_ALL)
		return true;
	if (p->imp.state != EVPN_MON_IMPORT_INSTALLED)
		return false;
	return view == VIEW_INSTALLED || !pub_is_collector(p);
}

static enum feed_view view_of_version(uint32_t version)
{
	if (version >= FEED_VERSION_IMPORT)
		return VIEW_ALL;
	if (version >= FEED_VERSION_COLLECTORS)
		return VIEW_INSTALLED;
	return VIEW_SERVERS;
}

static void *pub_alloc(void *arg)
{
	struct mon_pub *m = XMALLOC(MTYPE_EVPN_MON_FEED, sizeof(*m));

	memcpy(m, arg, sizeof(*m));
	return m;
}

static void *dirty_alloc(void *arg)
{
	struct mon_dirty *d = XMALLOC(MTYPE_EVPN_MON_FEED, sizeof(*d));

	memcpy(d, arg, sizeof(*d));
	return d;
}

static void feed_free(void *p)
{
	XFREE(MTYPE_EVPN_MON_FEED, p);
}

/* Best path of p in vpn's table, as a published entry; false if none. */
static bool read_slot(struct bgp *bgp, struct bgpevpn *vpn,
		      const struct prefix_evpn *p, struct mon_pub *m)
{
	struct bgp_dest *dest;
	struct bgp_path_info *pi;
	const struct prefix_rd *prd;

	if (!vpn || !is_vni_live(vpn))
		return false;
	dest = bgp_node_lookup(vpn->route_table, (struct prefix *)p);
	if (!dest)
		return false;
	for (pi = bgp_dest_get_bgp_path_info(dest); pi; pi = pi->next)
		if (CHECK_FLAG(pi->flags, BGP_PATH_SELECTED))
			break;
	bgp_dest_unlock_node(dest);
	if (!pi)
		return false;
	memset(m, 0, sizeof(*m));
	m->vni = vpn->vni;
	m->eth_tag = p->prefix.ext_addr.eth_tag;
	memcpy(&m->key, p->prefix.ext_addr.val, sizeof(m->key));
	prd = evpn_mon_path_rd(pi, vpn);
	if (prd)
		memcpy(m->rd, prd->val, 8);
	if (pi->attr->evpn_overlay.ext) {
		m->pl_len = MIN(pi->attr->evpn_overlay.ext->len, sizeof(m->pl));
		memcpy(m->pl, pi->attr->evpn_overlay.ext->data, m->pl_len);
	}
	m->local = (pi->peer == bgp->peer_self);
	return true;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

struct pb_session {
	Evpnmon__Feed__V1__MonitorSession m;
	char rd[RD_ADDRSTRLEN];
	char session_id[EVPN_MON_SESSION_ID_MAX];
	char reason[128];
};

/* The message's fields point into the held session: a snapshot holds one
 * struct pb_session per session until it is packed, so nothing in it is
 * decoded or encoded again. */
static void pub_to_pb(struct mon_pub *p, struct pb_session *out)
{
	static const uint8_t no_mac[6];
	struct prefix_rd prd = {.family = AF_UNSPEC, .prefixlen = 64};
	struct evpn_mon_route key;
	/* The payload was written by the codec (evpn_mon_route_payload(),
	 * for our routes and for a peer's decoded ones): server MAC (6), IP
	 * length (1), IP, options area (what evpn_mon_options_encode()
	 * writes). */
	uint8_t iplen = p->pl_len >= 7 ? p->pl[6] : 0;
	bool pl_ok = p->pl_len >= 7 && p->pl_len >= 7u + iplen;

	evpnmon__feed__v1__monitor_session__init(&out->m);
	out->m.vni = p->vni;
	out->m.eth_tag = p->eth_tag;
	out->m.host_mac.len = p->key.host_mac_len;
	out->m.host_mac.data = p->key.host_mac;
	out->m.host_ip.len = p->key.host_ip_len;
	out->m.host_ip.data = p->key.host_ip;
	if (pub_is_collector(p)) {
		/* version 3: no HOST ID and no MAC; server_ip is the
		 * collector's, its encapsulation is in the options */
		out->m.collector_id = p->key.host_id & 0xffff;
		out->m.host_id = 0;
		out->m.server_mac.len = 0;
	} else {
		out->m.host_id = p->key.host_id;
		out->m.server_mac.len = 6;
	}
	out->m.server_mac.data = pl_ok ? p->pl : (uint8_t *)no_mac;
	out->m.server_ip.len = pl_ok ? iplen : 0;
	out->m.server_ip.data = pl_ok ? p->pl + 7 : NULL;
	memcpy(prd.val, p->rd, 8);
	prefix_rd2str(&prd, out->rd, sizeof(out->rd));
	out->m.rd = out->rd;
	out->m.originator.len = 4;
	out->m.originator.data = p->key.orig_ip;
	out->m.local = p->local;
	/* version 2 */
	out->m.options.len = pl_ok ? p->pl_len - 7u - iplen : 0;
	out->m.options.data = pl_ok ? p->pl + 7 + iplen : NULL;
	evpn_mon_route_from_key(&key, p->rd, p->eth_tag, &p->key, NULL, 0);
	evpn_mon_session_id(&key, out->session_id, sizeof(out->session_id));
	out->m.session_id = out->session_id;
	/* version 4 */
	out->m.import_state = p->imp.state;
	evpn_mon_import_reason(p, out->reason, sizeof(out->reason));
	out->m.import_reason = out->reason;
}

void evpn_mon_sess_route(const struct mon_sess *s, struct evpn_mon_route *r)
{
	evpn_mon_route_from_key(r, s->rd, s->eth_tag, &s->key, s->pl,
				s->pl_len);
}

static uint8_t *pack_msg(Evpnmon__Feed__V1__FeedMessage *msg, size_t *len)
{
	uint8_t *buf;

	*len = evpnmon__feed__v1__feed_message__get_packed_size(msg);
	buf = XMALLOC(MTYPE_EVPN_MON_FEED, *len ? *len : 1);
	evpnmon__feed__v1__feed_message__pack(msg, buf);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

static void sub_remove(size_t i)
{
	feed.subs[i] = feed.subs[--feed.nsubs];
}

/* Returns false if the subscriber is gone. */
static bool send_to(const struct subscriber *s, const uint8_t *buf, size_t len)
{
	if (zmq_send(feed.sock, s->id, s->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
	    || zmq_send(feed.sock, buf, len, ZMQ_DONTWAIT) < 0) {
		if (errno == EHOSTUNREACH)
			return false;
		feed.tx_drops++; /* HWM: the consumer sees the gap */
		return true;
	}
	feed.tx_messages++;
	return true;
}

static void send_view(enum feed_view view, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < feed.nsubs;)
		if (feed.subs[i].view != view
		    || send_to(&feed.subs[i], buf, len))
			i++;
		else
			sub_remove(i);
}

/* To the views in the mask (bit per view). */
static void send_delta(struct mon_pub *p, bool add, unsigned int views)
{
	Evpnmon__Feed__V1__FeedMessage msg = EVPNMON__FEED__V1__FEED_MESSAGE__INIT;
	Evpnmon__Feed__V1__Delta d = EVPNMON__FEED__V1__DELTA__INIT;
	struct pb_session s;
	enum feed_view view;
	uint8_t *buf;
	size_t len;

	pub_to_pb(p, &s);
	d.epoch = feed.epoch;
	d.op = add ? EVPNMON__FEED__V1__DELTA__OP__ADD
		   : EVPNMON__FEED__V1__DELTA__OP__DEL;
	d.session = &s.m;
	msg.body_case = EVPNMON__FEED__V1__FEED_MESSAGE__BODY_DELTA;
	msg.delta = &d;
	/* A view's sequence counts its own changes, subscribed or not:
	 * the numbers a subscriber gets are those of its snapshot on. */
	for (view = 0; view < VIEW__MAX; view++) {
		if (!(views & (1u << view)))
			continue;
		d.seq = ++feed.seq[view];
		buf = pack_msg(&msg, &len);
		send_view(view, buf, len);
		XFREE(MTYPE_EVPN_MON_FEED, buf);
	}
}

struct snap_ctx {
	struct pb_session *s;
	Evpnmon__Feed__V1__MonitorSession **ptrs;
	size_t n;
	enum feed_view view;
};

static int snap_add(struct hash_bucket *bucket, void *arg)
{
	struct snap_ctx *c = arg;

	if (!view_shows(c->view, bucket->data))
		return HASHWALK_CONTINUE;
	pub_to_pb(bucket->data, &c->s[c->n]);
	c->ptrs[c->n] = &c->s[c->n].m;
	c->n++;
	return HASHWALK_CONTINUE;
}

static void send_snapshot(const struct subscriber *sub)
{
	Evpnmon__Feed__V1__FeedMessage msg = EVPNMON__FEED__V1__FEED_MESSAGE__INIT;
	Evpnmon__Feed__V1__Snapshot snap = EVPNMON__FEED__V1__SNAPSHOT__INIT;
	size_t count = feed.pub->count;
	struct snap_ctx c = {.view = sub->view};
	uint8_t *buf;
	size_t len;

	if (count) {
		c.s = XCALLOC(MTYPE_EVPN_MON_FEED, count * sizeof(*c.s));
		c.ptrs = XCALLOC(MTYPE_EVPN_MON_FEED, count * sizeof(*c.ptrs));
		hash_walk(feed.pub, snap_add, &c);
	}
	snap.epoch = feed.epoch;
	snap.seq = feed.seq[sub->view];
	snap.n_sessions = c.n;
	snap.sessions = c.ptrs;
	snap.version = FEED_VERSION;
	msg.body_case = EVPNMON__FEED__V1__FEED_MESSAGE__BODY_SNAPSHOT;
	msg.snapshot = &snap;
	buf = pack_msg(&msg, &len);
	send_to(sub, buf, len);
	feed.snapshots++;
	XFREE(MTYPE_EVPN_MON_FEED, buf);
	XFREE(MTYPE_EVPN_MON_FEED, c.s);
	XFREE(MTYPE_EVPN_MON_FEED, c.ptrs);
}

static void send_heartbeat(void)
{
	Evpnmon__Feed__V1__FeedMessage msg = EVPNMON__FEED__V1__FEED_MESSAGE__INIT;
	Evpnmon__Feed__V1__Heartbeat hb = EVPNMON__FEED__V1__HEARTBEAT__INIT;
	enum feed_view view;
	uint8_t *buf;
	size_t len;

	hb.epoch = feed.epoch;
	hb.version = FEED_VERSION;
	msg.body_case = EVPNMON__FEED__V1__FEED_MESSAGE__BODY_HEARTBEAT;
	msg.heartbeat = &hb;
	for (view = 0; view < VIEW__MAX; view++) {
		hb.seq = feed.seq[view];
		buf = pack_msg(&msg, &len);
		send_view(view, buf, len);
		XFREE(MTYPE_EVPN_MON_FEED, buf);
	}
}

static void feed_check_events(void)
{
	if (feed.cb)
		frrzmq_check_events(&feed.cb, &feed.cb->read, ZMQ_POLLIN);
}

/* ------------------------------------------------------------------ */
/* Level-triggered publication                                         */
/* ------------------------------------------------------------------ */

static void untouch(struct mon_pub *p)
{
	if (p->touched) {
		list_delete_node(feed.touched, p->touched);
		p->touched = NULL;
	}
}

void evpn_mon_feed_touch(struct mon_pub *p)
{
	if (!p->touched)
		p->touched = listnode_add(feed.touched, p);
}

static void pub_drop(struct mon_pub *p)
{
	send_delta(p, false, p->shown); /* DEL where it was shown */
	untouch(p);
	evpn_mon_import_leave(p);
	hash_release(feed.pub, p);
	feed_free(p);
}

/* Make the held entry of one slot equal to `now` (NULL: none). What the
 * subscribers are sent is decided at the end of the walk (flush_touched),
 * once the import decisions are settled; a removal is sent at once. */
static void publish_slot(struct mon_pub *slot, const struct mon_pub *now)
{
	struct mon_pub *old = hash_lookup(feed.pub, slot);

	if (old && now && !memcmp(old, now, PUB_CONTENT_LEN)) {
		old->seen = true;
		return;
	}
	if (old && !now) {
		pub_drop(old);
		return;
	}
	if (!now)
		return;
	if (old && memcmp(old->rd, now->rd, sizeof(old->rd))) {
		/* another session (RD) in the same slot: the old one is
		 * gone for the subscribers; the import decision stays (same
		 * originator, same key) */
		send_delta(old, false, old->shown);
		old->shown = 0;
	}
	if (!old) {
		old = hash_get(feed.pub, (void *)now, pub_alloc);
		old->seen = true;
		evpn_mon_import_arrive(old);
	} else {
		memcpy(old, now, PUB_CONTENT_LEN);
		old->seen = true;
		evpn_mon_import_changed(old);
	}
	old->changed = true;
	evpn_mon_feed_touch(old);
}

/* Send what changed in this walk: per view, an ADD for a new or changed
 * session it shows (or, to the version-4 view, a changed decision), a DEL
 * for one it showed and no longer does (its decision flipped). */
static void flush_touched(void)
{
	struct mon_pub *p;
	enum feed_view view;

	while ((p = listnode_head(feed.touched))) {
		/* resend: the same cause, but the reason's text quotes a
		 * limit that changed */
		bool decision = p->sent_state != p->imp.state
				|| p->sent_cause != p->imp.cause
				|| p->sent_rule != p->imp.rule
				|| p->imp.resend;
		unsigned int add = 0, del = 0;

		list_delete_node(feed.touched, p->touched);
		p->touched = NULL;
		for (view = 0; view < VIEW__MAX; view++) {
			unsigned int bit = 1u << view;
			bool want = view_shows(view, p);
			bool had = p->shown & bit;

			if (want && (!had || p->changed
				     || (view == VIEW_ALL && decision)))
				add |= bit;
			else if (!want && had)
				del |= bit;
		}
		if (del)
			send_delta(p, false, del);
		if (add)
			send_delta(p, true, add);
		p->shown = (p->shown & ~del) | add;
		p->changed = false;
		p->imp.resend = false;
		p->sent_state = p->imp.state;
		p->sent_cause = p->imp.cause;
		p->sent_rule = p->imp.rule;
	}
}

struct walk_ctx {
	struct bgp *bgp;
	struct list *slots; /* struct mon_dirty: the full walk's slots */
};

/* A full walk first lists the monitor routes of every live VNI, then reads
 * them in the same order as a normal walk (dirty_cmp), not in the order of
 * bgpd's VNI hash. */
static void full_walk_vni(struct hash_bucket *bucket, void *arg)
{
	struct bgpevpn *vpn = bucket->data;
	struct walk_ctx *w = arg;
	struct bgp_dest *dest;

	if (!is_vni_live(vpn))
		return;
	/* the monitor routes only, not the VNI's MAC/IP routes */
	for (dest = evpn_mon_table_first(vpn->route_table); dest;
	     dest = evpn_mon_table_next(dest)) {
		const struct prefix_evpn *p =
			(const struct prefix_evpn *)bgp_dest_get_prefix(dest);
		struct mon_dirty *d =
			XCALLOC(MTYPE_EVPN_MON_FEED, sizeof(*d));

		d->vni = vpn->vni;
		d->p = *p;
		listnode_add(w->slots, d);
	}
}

static int collect_unseen(struct hash_bucket *bucket, void *arg)
{
	struct mon_pub *m = bucket->data;
	struct list *gone = arg;

	if (!m->seen)
		listnode_add(gone, m);
	return HASHWALK_CONTINUE;
}

static int clear_seen(struct hash_bucket *bucket, void *arg)
{
	((struct mon_pub *)bucket->data)->seen = false;
	return HASHWALK_CONTINUE;
}

static int take_dirty(struct hash_bucket *bucket, void *arg)
{
	listnode_add(arg, bucket->data);
	return HASHWALK_CONTINUE;
}

/* The slots of one walk in (VNI, prefix) order, not the hash's: sessions
 * first seen in the same walk get their arrival rank (the order of
 * admission under the session limits) by their identity, so that VTEPs
 * that get the same burst within the same walk rank it alike (best
 * effort: each VTEP receives at its own pace). */
static int dirty_cmp(const void **a, const void **b)
{
	const struct mon_dirty *x = *a, *y = *b;

	if (x->vni != y->vni)
		return x->vni < y->vni ? -1 : 1;
	return memcmp(&x->p.prefix, &y->p.prefix, sizeof(x->p.prefix));
}

static void feed_walk(struct thread *t)
{
	struct walk_ctx w = {.bgp = bgp_get_evpn()};
	struct list *work = list_new();
	struct listnode *node;
	struct mon_dirty *d;
	struct mon_pub *m;

	feed.walks++;
	if (feed.full) {
		/* Everything: re-read every table, then drop what was not
		 * seen. */
		feed.full_walks++;
		feed.full = false;
		hash_clean(feed.dirty, feed_free);
		hash_walk(feed.pub, clear_seen, NULL);
		w.slots = list_new();
		if (w.bgp && w.bgp->vnihash)
			hash_iterate(w.bgp->vnihash, full_walk_vni, &w);
		/* sessions first seen here are ranked in a normal walk's
		 * order */
		list_sort(w.slots, dirty_cmp);
		for (ALL_LIST_ELEMENTS_RO(w.slots, node, d)) {
			struct bgpevpn *vpn = bgp_evpn_lookup_vni(w.bgp, d->vni);
			struct mon_pub now;

			if (vpn && read_slot(w.bgp, vpn, &d->p, &now))
				publish_slot(&now, &now);
			feed_free(d);
		}
		list_delete(&w.slots);
		hash_walk(feed.pub, collect_unseen, work);
		for (ALL_LIST_ELEMENTS_RO(work, node, m))
			pub_drop(m);
	} else {
		/* Only the slots that changed. */
		hash_walk(feed.dirty, take_dirty, work);
		list_sort(work, dirty_cmp);
		for (ALL_LIST_ELEMENTS_RO(work, node, d)) {
			struct bgpevpn *vpn =
				w.bgp ? bgp_evpn_lookup_vni(w.bgp, d->vni)
				      : NULL;
			struct mon_pub slot = {.vni = d->vni}, now;

			hash_release(feed.dirty, d);
			slot.eth_tag = d->p.prefix.ext_addr.eth_tag;
			memcpy(&slot.key, d->p.prefix.ext_addr.val,
			       sizeof(slot.key));
			publish_slot(&slot, read_slot(w.bgp, vpn, &d->p, &now)
						    ? &now
						    : NULL);
			feed_free(d);
		}
	}
	list_delete(&work);
	evpn_mon_import_settle();
	flush_touched();
	feed_check_events();
}

static void feed_schedule(void)
{
	if (feed.master)
		/* coalesce bursts (10,000 imports in one UPDATE stream) */
		thread_add_timer_msec(feed.master, feed_walk, NULL,
				      FEED_COALESCE_MS, &feed.t_walk);
}

/* Bumped by every change of a VNI table's monitor routes and every VNI
 * event, whether or not the feed runs yet. */
static unsigned long feed_generation;

/* The last changes, by generation, while a reader holds the journal: a
 * ring in which generation g is at g % FEED_JOURNAL_LEN. A VNI event (or
 * anything marked as "everything changed") is not journaled: a reader
 * whose changes go back past it, or past the ring, reads everything again.
 * 8192 changes (0.5 MB): applied one by one at 0.3-1 us each, a few ms,
 * less than reading the VNI tables whole at 50,000 sessions (about 13 ms;
 * docs/benchmarks.md, "show"). */
#define FEED_JOURNAL_LEN 8192

static struct {
	struct evpn_mon_change *ring;
	unsigned int readers;
	unsigned long full_gen; /* the last generation not journaled */
	uint64_t read, not_held; /* evpn_mon_feed_change() answers */
	uint64_t rereads;        /* evpn_mon_feed_journal_reread() */
} journal;

unsigned long evpn_mon_feed_generation(void)
{
	return feed_generation;
}

void evpn_mon_feed_journal_hold(void)
{
	if (journal.readers++)
		return;
	journal.ring = XCALLOC(MTYPE_EVPN_MON_JOURNAL,
			       FEED_JOURNAL_LEN * sizeof(*journal.ring));
	journal.full_gen = feed_generation;
}

void evpn_mon_feed_journal_release(void)
{
	assert(journal.readers);
	if (--journal.readers)
		return;
	XFREE(MTYPE_EVPN_MON_JOURNAL, journal.ring);
}

const struct evpn_mon_change *evpn_mon_feed_change(unsigned long gen)
{
	if (!journal.ring || gen <= journal.full_gen || gen > feed_generation
	    || feed_generation - gen >= FEED_JOURNAL_LEN) {
		journal.not_held++;
		return NULL;
	}
	journal.read++;
	return &journal.ring[gen % FEED_JOURNAL_LEN];
}

void evpn_mon_feed_journal_reread(void)
{
	journal.rereads++;
}

void evpn_mon_feed_mark(vni_t vni, const struct prefix_evpn *p)
{
	struct mon_dirty d = {.vni = vni};

	feed_generation++;
	if (journal.ring) {
		struct evpn_mon_change *c =
			&journal.ring[feed_generation % FEED_JOURNAL_LEN];

		c->vni = vni;
		c->p = *p;
	}
	if (!feed.master)
		return;
	d.p = *p;
	hash_get(feed.dirty, &d, dirty_alloc);
	feed_schedule();
}

void evpn_mon_feed_schedule(void)
{
	feed_generation++;
	journal.full_gen = feed_generation;
	feed.full = true;
	feed_schedule();
}

void evpn_mon_feed_kick(void)
{
	feed_schedule();
}

static void pub_slot_set(struct mon_pub *slot, vni_t vni,
			 const struct prefix_evpn *p)
{
	memset(slot, 0, PUB_SLOT_LEN);
	slot->vni = vni;
	slot->eth_tag = p->prefix.ext_addr.eth_tag;
	memcpy(&slot->key, p->prefix.ext_addr.val, sizeof(slot->key));
}

const struct mon_sess *evpn_mon_feed_lookup(vni_t vni,
					    const struct prefix_evpn *p)
{
	struct mon_pub slot;

	if (!feed.pub)
		return NULL;
	pub_slot_set(&slot, vni, p);
	return hash_lookup(feed.pub, &slot);
}

uint32_t evpn_mon_feed_prefetch(vni_t vni, const struct prefix_evpn *p)
{
	struct mon_pub slot;
	uint32_t hash;

	pub_slot_set(&slot, vni, p);
	hash = pub_hash(&slot);
	if (feed.pub && feed.pub->size)
		__builtin_prefetch(&feed.pub->index[hash & (feed.pub->size - 1)]);
	return hash;
}

/* The head of the hash's chain: nearly always the only one. */
static struct hash_bucket *feed_pub_head(uint32_t hash)
{
	if (!feed.pub || !feed.pub->size)
		return NULL;
	return feed.pub->index[hash & (feed.pub->size - 1)];
}

void evpn_mon_feed_prefetch_bucket(uint32_t hash)
{
	struct hash_bucket *b = feed_pub_head(hash);

	if (b)
		__builtin_prefetch(b);
}

void evpn_mon_feed_prefetch_session(uint32_t hash)
{
	struct hash_bucket *b = feed_pub_head(hash);

	if (b)
		__builtin_prefetch(b->data);
}

unsigned int evpn_mon_feed_count(void)
{
	return feed.pub ? feed.pub->count : 0;
}

static void feed_heartbeat(struct thread *t)
{
	send_heartbeat();
	feed_check_events();
	thread_add_timer_msec(feed.master, feed_heartbeat, NULL,
			      FEED_HEARTBEAT_MS, &feed.t_heartbeat);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

static void feed_answer_subscriptions(struct thread *t)
{
	for (size_t i = 0; i < feed.nsubs; i++)
		if (feed.subs[i].snapshot_due) {
			feed.subs[i].snapshot_due = false;
			send_snapshot(&feed.subs[i]);
		}
}

static void handle_request(const uint8_t *id, size_t idlen,
			   const uint8_t *data, size_t len)
{
	Evpnmon__Feed__V1__Request *req;
	size_t i;

	req = evpnmon__feed__v1__request__unpack(NULL, len, data);
	if (!req || idlen == 0 || idlen > sizeof(feed.subs[0].id)) {
		feed.rx_bad++;
		if (req)
			evpnmon__feed__v1__request__free_unpacked(req, NULL);
		return;
	}
	for (i = 0; i < feed.nsubs; i++)
		if (feed.subs[i].idlen == idlen
		    && !memcmp(feed.subs[i].id, id, idlen))
			break;

	switch (req->kind) {
	case EVPNMON__FEED__V1__REQUEST__KIND__SUBSCRIBE:
		if (i == feed.nsubs) {
			if (feed.nsubs == FEED_MAX_SUBSCRIBERS) {
				zlog_warn("evpn-monitor: feed: too many subscribers, refusing %s",
					  req->client);
				break;
			}
			memcpy(feed.subs[i].id, id, idlen);
			feed.subs[i].idlen = idlen;
			feed.nsubs++;
			/* A consumer of a lower version ignores the fields it
			 * does not know (they are only ever added); one of a
			 * higher version takes what this bgpd fills. */
			zlog_info("evpn-monitor: feed: %s subscribed (consumer feed version %u, ours %u%s%s)",
				  req->client, req->version, FEED_VERSION,
				  req->version < FEED_VERSION_IMPORT
					  ? ", installed sessions only"
					  : "",
				  req->version < FEED_VERSION_COLLECTORS
					  ? ", without collector sessions"
					  : "");
		}
		/* The version may change with a new subscription (the
		 * consumer restarted with the same identity). */
		feed.subs[i].view = view_of_version(req->version);
		/* Answered once every queued request is read: a consumer
		 * subscribes again every second while bgpd is too busy to
		 * answer, and one snapshot answers them all. */
		feed.subs[i].snapshot_due = true;
		thread_add_event(feed.master, feed_answer_subscriptions, NULL,
				 0, &feed.t_snapshots);
		break;
	case EVPNMON__FEED__V1__REQUEST__KIND__UNSUBSCRIBE:
		if (i < feed.nsubs)
			sub_remove(i);
		break;
	default:
		feed.rx_bad++;
		break;
	}
	evpnmon__feed__v1__request__free_unpacked(req, NULL);
}

static void feed_read(void *arg, void *sock)
{
	zmq_msg_t id, body;
	bool have_body = false;

	zmq_msg_init(&id);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&id, sock, ZMQ_DONTWAIT) < 0)
		goto out;
	if (zmq_msg_more(&id)) {
		if (zmq_msg_recv(&body, sock, ZMQ_DONTWAIT) < 0)
			goto out;
		have_body = true;
		/* drop any extra frames */
		while (zmq_msg_more(&body)) {
			zmq_msg_close(&body);
			zmq_msg_init(&body);
			if (zmq_msg_recv(&body, sock, ZMQ_DONTWAIT) < 0) {
				have_body = false;
				goto out;
			}
			feed.rx_bad++;
		}
	}
	if (have_body)
		handle_request(zmq_msg_data(&id), zmq_msg_size(&id),
			       zmq_msg_data(&body), zmq_msg_size(&body));
	else
		feed.rx_bad++;
out:
	zmq_msg_close(&id);
	zmq_msg_close(&body);
}

/* ------------------------------------------------------------------ */
/* Life cycle and show                                                 */
/* ------------------------------------------------------------------ */

void evpn_mon_feed_init(struct thread_master *master, const char *endpoint)
{
	int one = 1, hwm = 100000;

	feed.pub = hash_create_size(1024, pub_hash, pub_eq, "evpn-monitor feed");
	feed.dirty = hash_create_size(64, dirty_hash, dirty_eq, "evpn-monitor dirty");
	feed.touched = list_new();
	feed.master = master;
	feed.epoch = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	strlcpy(feed.endpoint, endpoint, sizeof(feed.endpoint));

	frrzmq_init();
	feed.sock = zmq_socket(frrzmq_context, ZMQ_ROUTER);
	if (!feed.sock) {
		zlog_err("evpn-monitor: feed: zmq_socket: %s",
			 zmq_strerror(errno));
		return;
	}
	zmq_setsockopt(feed.sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(feed.sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	if (strncmp(endpoint, "ipc://", 6) == 0)
		unlink(endpoint + 6); /* a stale socket of a previous bgpd */
	if (zmq_bind(feed.sock, endpoint) < 0) {
		zlog_err("evpn-monitor: feed: cannot bind %s: %s", endpoint,
			 zmq_strerror(errno));
		zmq_close(feed.sock);
		feed.sock = NULL;
		return;
	}
	zlog_info("evpn-monitor: feed on %s (epoch %" PRIu64 ")", endpoint,
		  feed.epoch);
	frrzmq_thread_add_read_msg(master, feed_read, NULL, NULL, feed.sock,
				   &feed.cb);
	thread_add_timer_msec(master, feed_heartbeat, NULL, FEED_HEARTBEAT_MS,
			      &feed.t_heartbeat);
	evpn_mon_feed_schedule();
}

static void pub_free_held(void *arg)
{
	evpn_mon_import_leave(arg);
	feed_free(arg);
}

void evpn_mon_feed_fini(void)
{
	THREAD_OFF(feed.t_walk);
	THREAD_OFF(feed.t_heartbeat);
	THREAD_OFF(feed.t_snapshots);
	if (feed.cb)
		frrzmq_thread_cancel(&feed.cb, &feed.cb->read);
	if (feed.sock) {
		int zero = 0;

		zmq_setsockopt(feed.sock, ZMQ_LINGER, &zero, sizeof(zero));
		zmq_close(feed.sock);
		feed.sock = NULL;
		if (strncmp(feed.endpoint, "ipc://", 6) == 0)
			unlink(feed.endpoint + 6);
	}
	if (feed.pub) {
		hash_clean(feed.pub, pub_free_held);
		hash_free(feed.pub);
		feed.pub = NULL;
	}
	if (feed.touched)
		list_delete(&feed.touched);
	if (feed.dirty) {
		hash_clean(feed.dirty, feed_free);
		hash_free(feed.dirty);
		feed.dirty = NULL;
	}
	frrzmq_finish();
	feed.master = NULL;
}

static size_t subs_of_view(enum feed_view view)
{
	size_t i, n = 0;

	for (i = 0; i < feed.nsubs; i++)
		if (feed.subs[i].view == view)
			n++;
	return n;
}

void evpn_mon_feed_show(struct vty *vty, bool uj)
{
	if (uj) {
		json_object *json = json_object_new_object();

		json_object_string_add(json, "endpoint", feed.endpoint);
		json_object_boolean_add(json, "bound", feed.sock != NULL);
		json_object_int_add(json, "version", FEED_VERSION);
		json_object_int_add(json, "epoch", feed.epoch);
		json_object_int_add(json, "seq", feed.seq[VIEW_ALL]);
		/* consumers below version 3: their own sequence */
		json_object_int_add(json, "seqServersOnly",
				    feed.seq[VIEW_SERVERS]);
		/* version 3: installed sessions only, their own sequence */
		json_object_int_add(json, "seqInstalledOnly",
				    feed.seq[VIEW_INSTALLED]);
		json_object_int_add(json, "sessions", feed.pub ? feed.pub->count : 0);
		json_object_int_add(json, "walks", feed.walks);
		json_object_int_add(json, "fullWalks", feed.full_walks);
		json_object_int_add(json, "subscribers", feed.nsubs);
		json_object_int_add(json, "subscribersServersOnly",
				    subs_of_view(VIEW_SERVERS));
		json_object_int_add(json, "subscribersInstalledOnly",
				    subs_of_view(VIEW_INSTALLED));
		json_object_int_add(json, "txMessages", feed.tx_messages);
		json_object_int_add(json, "txDrops", feed.tx_drops);
		json_object_int_add(json, "snapshots", feed.snapshots);
		json_object_int_add(json, "rxBad", feed.rx_bad);
		json_object_int_add(json, "journalReaders", journal.readers);
		json_object_int_add(json, "journalChangesRead", journal.read);
		json_object_int_add(json, "journalNotHeld", journal.not_held);
		json_object_int_add(json, "journalRereads", journal.rereads);
		vty_json(vty, json);
		return;
	}
	vty_out(vty, "Feed endpoint %s (%s)\n", feed.endpoint,
		feed.sock ? "bound" : "NOT bound");
	vty_out(vty, "  epoch %" PRIu64 ", seq %" PRIu64 ", %zu sessions, %zu subscribers\n",
		feed.epoch, feed.seq[VIEW_ALL],
		feed.pub ? (size_t)feed.pub->count : 0, feed.nsubs);
	vty_out(vty, "  %zu subscribers of version %u (installed sessions only, seq %" PRIu64 ")\n",
		subs_of_view(VIEW_INSTALLED), FEED_VERSION_COLLECTORS,
		feed.seq[VIEW_INSTALLED]);
	vty_out(vty, "  %zu subscribers below version %u (installed server sessions only, seq %" PRIu64 ")\n",
		subs_of_view(VIEW_SERVERS), FEED_VERSION_COLLECTORS,
		feed.seq[VIEW_SERVERS]);
	vty_out(vty, "  sent %" PRIu64 " messages (%" PRIu64 " dropped), %" PRIu64 " snapshots, %" PRIu64 " bad requests\n",
		feed.tx_messages, feed.tx_drops, feed.snapshots, feed.rx_bad);
	vty_out(vty, "  change journal: %u readers, %" PRIu64 " changes read, %" PRIu64 " asked for but not held, %" PRIu64 " tables read whole again\n",
		journal.readers, journal.read, journal.not_held, journal.rereads);
}
