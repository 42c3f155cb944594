// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * evpn-monitor bgpd module: the session feed to the local fpm-consumer.
 *
 * ZeroMQ ROUTER socket in bgpd's event loop (lib/frr_zmq). A consumer's
 * DEALER sends Request{SUBSCRIBE}; it gets one Snapshot, then Delta messages
 * with consecutive sequence numbers, and a Heartbeat every second. What is
 * published is recomputed level-triggered from bgpd's VNI tables (best path
 * of every monitor route in every live L2 VNI) and diffed against what was
 * published before. Messages: proto/monitor_feed.proto.
 */
#include <zebra.h>
#include <zmq.h>

#include "lib/frr_zmq.h"
#include "lib/hash.h"
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

#include "bgpd/bgp_evpn_mon.h"
#include "bgpd/monitor_feed.pb-c.h"

DEFINE_MTYPE_STATIC(BGPD, EVPN_MON_FEED, "EVPN monitor feed state");

#define FEED_MAX_SUBSCRIBERS 16
#define FEED_HEARTBEAT_MS 1000
#define FEED_COALESCE_MS 10

/* One published session. Identity: everything before `pl`. */
struct mon_pub {
	uint32_t vni;
	uint32_t eth_tag;
	struct evpn_mon_key key;
	uint8_t rd[8];
	struct evpn_mon_payload pl;
	bool local;
};
#define PUB_ID_LEN offsetof(struct mon_pub, pl)

struct subscriber {
	uint8_t id[256];
	size_t idlen;
};

static struct {
	struct thread_master *master;
	void *sock;
	struct frrzmq_cb *cb;
	struct thread *t_walk;
	struct thread *t_heartbeat;
	char endpoint[512];
	uint64_t epoch;
	uint64_t seq;
	struct mon_pub *pub; /* sorted by identity */
	size_t npub;
	struct subscriber subs[FEED_MAX_SUBSCRIBERS];
	size_t nsubs;
	uint64_t tx_messages, tx_drops, snapshots, rx_bad;
} feed;

static int pub_cmp(const void *a, const void *b)
{
	return memcmp(a, b, PUB_ID_LEN);
}

/* ------------------------------------------------------------------ */
/* Building the current set                                            */
/* ------------------------------------------------------------------ */

struct collect {
	struct bgp *bgp;
	struct mon_pub *arr;
	size_t n, cap;
};

static void collect_vni(struct hash_bucket *bucket, void *arg)
{
	struct bgpevpn *vpn = bucket->data;
	struct collect *c = arg;
	struct bgp_dest *dest;
	struct bgp_path_info *pi;

	if (!is_vni_live(vpn))
		return;
	for (dest = bgp_table_top(vpn->route_table); dest;
	     dest = bgp_route_next(dest)) {
		const struct prefix_evpn *p =
			(const struct prefix_evpn *)bgp_dest_get_prefix(dest);
		const struct prefix_rd *prd;
		struct mon_pub *m;

		if (p->prefix.route_type != EVPN_MON_ROUTE_TYPE)
			continue;
		for (pi = bgp_dest_get_bgp_path_info(dest); pi; pi = pi->next)
			if (CHECK_FLAG(pi->flags, BGP_PATH_SELECTED))
				break;
		if (!pi)
			continue;
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 64;
			c->arr = XREALLOC(MTYPE_EVPN_MON_FEED, c->arr,
					  c->cap * sizeof(*c->arr));
		}
		m = &c->arr[c->n++];
		memset(m, 0, sizeof(*m));
		m->vni = vpn->vni;
		m->eth_tag = p->prefix.ext_addr.eth_tag;
		memcpy(&m->key, p->prefix.ext_addr.val, sizeof(m->key));
		prd = evpn_mon_path_rd(pi, vpn);
		if (prd)
			memcpy(m->rd, prd->val, 8);
		memcpy(&m->pl, pi->attr->evpn_overlay.ext, sizeof(m->pl));
		m->local = (pi->peer == c->bgp->peer_self);
	}
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

struct pb_session {
	Evpnmon__Feed__V1__MonitorSession m;
	char rd[RD_ADDRSTRLEN];
};

static void pub_to_pb(struct mon_pub *p, struct pb_session *out)
{
	struct prefix_rd prd = {.family = AF_UNSPEC, .prefixlen = 64};

	evpnmon__feed__v1__monitor_session__init(&out->m);
	out->m.vni = p->vni;
	out->m.eth_tag = p->eth_tag;
	out->m.host_mac.len = p->key.host_mac_len;
	out->m.host_mac.data = p->key.host_mac;
	out->m.host_ip.len = p->key.host_ip_len;
	out->m.host_ip.data = p->key.host_ip;
	out->m.host_id = p->key.host_id;
	out->m.server_mac.len = 6;
	out->m.server_mac.data = p->pl.server_mac;
	out->m.server_ip.len = p->pl.server_ip_len;
	out->m.server_ip.data = p->pl.server_ip;
	memcpy(prd.val, p->rd, 8);
	prefix_rd2str(&prd, out->rd, sizeof(out->rd));
	out->m.rd = out->rd;
	out->m.originator.len = 4;
	out->m.originator.data = p->key.orig_ip;
	out->m.local = p->local;
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

static void send_all(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < feed.nsubs;)
		if (send_to(&feed.subs[i], buf, len))
			i++;
		else
			sub_remove(i);
}

static void send_delta(struct mon_pub *p, bool add)
{
	Evpnmon__Feed__V1__FeedMessage msg = EVPNMON__FEED__V1__FEED_MESSAGE__INIT;
	Evpnmon__Feed__V1__Delta d = EVPNMON__FEED__V1__DELTA__INIT;
	struct pb_session s;
	uint8_t *buf;
	size_t len;

	pub_to_pb(p, &s);
	d.epoch = feed.epoch;
	d.seq = ++feed.seq;
	d.op = add ? EVPNMON__FEED__V1__DELTA__OP__ADD
		   : EVPNMON__FEED__V1__DELTA__OP__DEL;
	d.session = &s.m;
	msg.body_case = EVPNMON__FEED__V1__FEED_MESSAGE__BODY_DELTA;
	msg.delta = &d;
	buf = pack_msg(&msg, &len);
	send_all(buf, len);
	XFREE(MTYPE_EVPN_MON_FEED, buf);
}

static void send_snapshot(const struct subscriber *sub)
{
	Evpnmon__Feed__V1__FeedMessage msg = EVPNMON__FEED__V1__FEED_MESSAGE__INIT;
	Evpnmon__Feed__V1__Snapshot snap = EVPNMON__FEED__V1__SNAPSHOT__INIT;
	struct pb_session *s = NULL;
	Evpnmon__Feed__V1__MonitorSession **ptrs = NULL;
	uint8_t *buf;
	size_t len;

	if (feed.npub) {
		s = XCALLOC(MTYPE_EVPN_MON_FEED, feed.npub * sizeof(*s));
		ptrs = XCALLOC(MTYPE_EVPN_MON_FEED, feed.npub * sizeof(*ptrs));
	}
	for (size_t i = 0; i < feed.npub; i++) {
		pub_to_pb(&feed.pub[i], &s[i]);
		ptrs[i] = &s[i].m;
	}
	snap.epoch = feed.epoch;
	snap.seq = feed.seq;
	snap.n_sessions = feed.npub;
	snap.sessions = ptrs;
	msg.body_case = EVPNMON__FEED__V1__FEED_MESSAGE__BODY_SNAPSHOT;
	msg.snapshot = &snap;
	buf = pack_msg(&msg, &len);
	send_to(sub, buf, len);
	feed.snapshots++;
	XFREE(MTYPE_EVPN_MON_FEED, buf);
	XFREE(MTYPE_EVPN_MON_FEED, s);
	XFREE(MTYPE_EVPN_MON_FEED, ptrs);
}

static void send_heartbeat(void)
{
	Evpnmon__Feed__V1__FeedMessage msg = EVPNMON__FEED__V1__FEED_MESSAGE__INIT;
	Evpnmon__Feed__V1__Heartbeat hb = EVPNMON__FEED__V1__HEARTBEAT__INIT;
	uint8_t *buf;
	size_t len;

	hb.epoch = feed.epoch;
	hb.seq = feed.seq;
	msg.body_case = EVPNMON__FEED__V1__FEED_MESSAGE__BODY_HEARTBEAT;
	msg.heartbeat = &hb;
	buf = pack_msg(&msg, &len);
	send_all(buf, len);
	XFREE(MTYPE_EVPN_MON_FEED, buf);
}

static void feed_check_events(void)
{
	if (feed.cb)
		frrzmq_check_events(&feed.cb, &feed.cb->read, ZMQ_POLLIN);
}

/* ------------------------------------------------------------------ */
/* Level-triggered publication                                         */
/* ------------------------------------------------------------------ */

static void feed_walk(struct thread *t)
{
	struct collect c = {.bgp = bgp_get_evpn()};
	size_t i = 0, j = 0;

	if (c.bgp && c.bgp->vnihash)
		hash_iterate(c.bgp->vnihash, collect_vni, &c);
	if (c.n)
		qsort(c.arr, c.n, sizeof(*c.arr), pub_cmp);

	/* merge old (feed.pub) and new (c.arr) */
	while (i < feed.npub || j < c.n) {
		int cmp = i == feed.npub ? 1
			  : j == c.n	 ? -1
					 : pub_cmp(&feed.pub[i], &c.arr[j]);

		if (cmp < 0)
			send_delta(&feed.pub[i++], false);
		else if (cmp > 0)
			send_delta(&c.arr[j++], true);
		else {
			if (memcmp(&feed.pub[i], &c.arr[j], sizeof(c.arr[j])))
				send_delta(&c.arr[j], true);
			i++;
			j++;
		}
	}
	XFREE(MTYPE_EVPN_MON_FEED, feed.pub);
	feed.pub = c.arr;
	feed.npub = c.n;
	feed_check_events();
}

void evpn_mon_feed_schedule(void)
{
	if (!feed.master)
		return;
	/* coalesce bursts (10,000 imports in one UPDATE stream) */
	thread_add_timer_msec(feed.master, feed_walk, NULL, FEED_COALESCE_MS,
			      &feed.t_walk);
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
			zlog_info("evpn-monitor: feed: %s subscribed",
				  req->client);
		}
		send_snapshot(&feed.subs[i]);
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

void evpn_mon_feed_fini(void)
{
	THREAD_OFF(feed.t_walk);
	THREAD_OFF(feed.t_heartbeat);
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
	XFREE(MTYPE_EVPN_MON_FEED, feed.pub);
	feed.npub = 0;
	frrzmq_finish();
	feed.master = NULL;
}

void evpn_mon_feed_show(struct vty *vty, bool uj)
{
	if (uj) {
		json_object *json = json_object_new_object();

		json_object_string_add(json, "endpoint", feed.endpoint);
		json_object_boolean_add(json, "bound", feed.sock != NULL);
		json_object_int_add(json, "epoch", feed.epoch);
		json_object_int_add(json, "seq", feed.seq);
		json_object_int_add(json, "sessions", feed.npub);
		json_object_int_add(json, "subscribers", feed.nsubs);
		json_object_int_add(json, "txMessages", feed.tx_messages);
		json_object_int_add(json, "txDrops", feed.tx_drops);
		json_object_int_add(json, "snapshots", feed.snapshots);
		json_object_int_add(json, "rxBad", feed.rx_bad);
		vty_json(vty, json);
		return;
	}
	vty_out(vty, "Feed endpoint %s (%s)\n", feed.endpoint,
		feed.sock ? "bound" : "NOT bound");
	vty_out(vty, "  epoch %" PRIu64 ", seq %" PRIu64 ", %zu sessions, %zu subscribers\n",
		feed.epoch, feed.seq, feed.npub, feed.nsubs);
	vty_out(vty, "  sent %" PRIu64 " messages (%" PRIu64 " dropped), %" PRIu64 " snapshots, %" PRIu64 " bad requests\n",
		feed.tx_messages, feed.tx_drops, feed.snapshots, feed.rx_bad);
}
