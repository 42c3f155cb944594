#include "core/decision.hpp"

#include "core/session_route.hpp"

#include <array>
#include <iterator>
#include <optional>

namespace evpnmon::consumer {

const char *to_string(SessionStatus status)
{
	switch (status) {
	case SessionStatus::Active:
		return "active";
	case SessionStatus::ServerUnknown:
		return "server-unknown";
	case SessionStatus::ServerUnreachable:
		return "server-unreachable";
	case SessionStatus::VniNotLocal:
		return "vni-not-local";
	case SessionStatus::Conflict:
		return "conflict";
	case SessionStatus::Invalid:
		return "invalid";
	case SessionStatus::CollectorUnsupported:
		return "collector-unsupported";
	case SessionStatus::Denied:
		return "denied";
	case SessionStatus::OverLimit:
		return "over-limit";
	}
	return "?";
}

using Kind = MacLocation::Kind;

namespace {

// A server's HOST ID and a collector's ID are separate spaces: in one slot
// (kind, VNI, host, ID) the entries of collector sessions and those of
// server sessions are two destinations, which never conflict.
bool to_collector(const dp::Action &a)
{
	return a.kind == dp::Action::Kind::Erspan;
}

} // namespace

// Entries 1 and 2 are per session, but the exactly-once rule needs one
// action per (kind, VNI, host, HOST ID) whatever the session (R4): the first
// session in key order that claims such a slot owns its action, and a
// session wanting another action there (another server under the same
// HOST ID) is a conflict. Sessions that agree on the action (one server
// watching a host through several sessions, with different profiles) each
// get their own entries.
// The session id is the last field of EntryKey: the entries of one slot
// are neighbours in the map, and the slot's fields with an empty session
// sort before all of them.
bool same_slot(const dp::EntryKey &a, const dp::EntryKey &b)
{
	return a.kind == b.kind && a.vni == b.vni && a.host == b.host && a.host_id == b.host_id;
}

dp::EntryKey slot_of(const dp::EntryKey &key)
{
	return dp::EntryKey{key.kind, key.vni, key.host, key.host_id, {}};
}

namespace {

// entries.lower_bound(key), without a search when it is the element right
// after `last`.
EntryMap::iterator lower_bound_after(EntryMap &entries, const dp::EntryKey &key,
				     EntryMap::iterator last)
{
	if (last != entries.end() && last->first < key) {
		const auto next = std::next(last);
		if (next == entries.end() || !(next->first < key))
			return next;
	}
	return entries.lower_bound(key);
}

} // namespace

// Each cursor stays within its own kind's nodes (end() once they are
// used up): no cursor ever stands on a node another kind's cursor takes.
SpareNodes::SpareNodes(EntryMap &spare) : spare_(spare)
{
	at_.fill(spare_.end());
	for (const auto kind : {dp::EntryKind::MirrorSource, dp::EntryKind::MirrorDest,
				dp::EntryKind::Decap}) {
		auto &at = at_[static_cast<std::size_t>(kind) & 3];
		at = spare_.lower_bound(dp::EntryKey{kind, 0, {}, 0, {}});
		if (at != spare_.end() && at->first.kind != kind)
			at = spare_.end();
	}
}

EntryMap::node_type SpareNodes::take(const dp::EntryKey &key)
{
	if (spare_.empty())
		return {};
	auto &at = at_[static_cast<std::size_t>(key.kind) & 3];
	if (at != spare_.end()) {
		const auto node = at++;
		if (at != spare_.end() && at->first.kind != key.kind)
			at = spare_.end();
		return spare_.extract(node);
	}
	// This kind's nodes are used up: the last of another kind's.
	const auto last = std::prev(spare_.end());
	for (auto &other : at_)
		if (other == last)
			other = spare_.end();
	return spare_.extract(last);
}

void SpareNodes::give_back(EntryMap::node_type node)
{
	spare_.insert(std::move(node)); // freed if the spare has its key too
}

bool claim(EntryMap &entries, dp::EntryKey key, const EntrySpec &spec, EntryMap::iterator *last,
	   SpareNodes *spare)
{
	std::string session = std::move(key.session);
	key.session.clear();
	// The slot's first entry, if any.
	auto it = last ? lower_bound_after(entries, key, *last) : entries.lower_bound(key);
	// The first entry of the slot that goes to the same kind of destination
	// owns the slot's action for that kind.
	for (auto j = it; j != entries.end() && same_slot(j->first, key); ++j)
		if (to_collector(j->second.action) == to_collector(spec.action)) {
			if (!(j->second.action == spec.action))
				return false;
			break;
		}
	key.session = std::move(session);
	// `it` is where the key goes when the slot is new (the usual case).
	const auto before = entries.size();
	EntryMap::iterator pos;
	if (it != entries.end() && it->first == key) {
		pos = it; // there already (below): no node taken
	} else if (auto node = spare ? spare->take(key) : EntryMap::node_type{}) {
		// The key copied into the node's own (its session id's buffer
		// kept where it was), not moved in.
		node.key() = key;
		node.mapped() = spec;
		pos = entries.insert(it, std::move(node));
		// insert() leaves the node as it was when it does not take it
		// (the key is there: another route of the session): then it is
		// not empty.
		if (node)
			spare->give_back(std::move(node));
	} else {
		pos = entries.emplace_hint(it, std::move(key), spec);
	}
	if (last)
		*last = pos;
	// Already there: another route of this session (an RD change in
	// flight); the first in key order wins, one to the same place (server
	// and options) is no conflict.
	return entries.size() != before || pos->second == spec;
}

dp::Action erspan_action(const Session &s)
{
	const auto &e = s.options.erspan();
	dp::Action a;
	a.kind = dp::Action::Kind::Erspan;
	if (s.server_ip)
		a.erspan.collector = *s.server_ip;
	a.erspan.version = e.version;
	a.erspan.span_id = e.span_id;
	a.erspan.dscp = e.dscp;
	a.erspan.ttl = e.ttl;
	a.erspan.gre_proto = e.gre_proto;
	return a;
}

// The rule, for one session S = (VNI v, host H, server with HOST ID h):
//  - the server location decides the action: LocalPort(server port) when the
//    server MAC is local, Vxlan(server VTEP, v, h) when remote (and that VTEP
//    is reachable); unknown or unreachable -> Unresolved: the entries stay,
//    naming the server, and copy nothing (never a copy into the void);
//  - entry 2 (dst = H) on every VTEP that has v;
//  - entry 1 (src = H) on every VTEP that has v too: a frame from H enters
//    the fabric at H's own port only, so the entry matches at H's VTEP alone
//    and cannot duplicate a copy, while it is already there for the first
//    frame after H moved or aged out (learning happens after that frame has
//    passed the mirror program). H's location is shown, never used;
//  - entry 3 (Decap h -> server port) on the VTEP where the server is local.
// Entries 1 and 2 belong to the session (EntryKey::session = its id) and
// carry its options; entry 3 is shared by every session of (v, h) and has
// no options.
// The dataplane emits one copy per distinct action per packet, so a packet
// matching both entry 1 of H1 and entry 2 of H2 for the same server yields
// one copy.
// A collector session (ERSPAN to a routed collector IP) follows R1 and R2
// alike: entries 1 and 2 on every VTEP of v, keyed by the collector ID,
// with the Erspan action. The action depends on nothing this VTEP
// learns (the underlay routes the copy), so there is no server location,
// no entry 3, and no move changes anything.
SessionPlan plan_session(const Session &s, const MacTable &macs, const RouteTable &routes,
			 const DecisionConfig &config)
{
	SessionPlan plan;
	const auto &key = s.key;
	const std::uint32_t vni = key.vni;
	if (!validation_error(s).empty()) {
		plan.status = SessionStatus::Invalid;
		return plan;
	}
	if (!config.local_vnis.contains(vni)) {
		plan.status = SessionStatus::VniNotLocal;
		return plan;
	}
	// Sessions from the feed always carry their id.
	plan.id = s.id.empty() ? make_session_id(key) : s.id;
	dp::Action action;
	if (s.is_collector()) {
		if (!s.server_ip || s.server_ip->family != IpAddr::Family::V4) {
			plan.status = SessionStatus::CollectorUnsupported;
			return plan;
		}
		action = erspan_action(s);
	} else {
		// A server without a target here (unknown, unreachable) keeps
		// its sessions' entries 1/2 with the Unresolved target: its
		// return, like its move, is one change of its target.
		const auto place = place_server(vni, s.server_mac, macs, routes, config);
		plan.server_location = place.location;
		plan.status = place.status;
		action = server_target(place, vni, key.host_id);
	}
	plan.action = action;
	const dp::HostMatch host{key.host_mac, key.host_ip};
	// Entries 1 and 2 everywhere the VNI exists. A server session's name
	// its server, so that they stay as they are when it moves.
	const dp::ServerKey server{vni, s.server_mac, key.host_id};
	EntrySpec mirror(s.is_collector() ? action : dp::Action::naming(server), s.options);
	plan.wants.reserve(3);
	plan.wants.emplace_back(dp::EntryKey{dp::EntryKind::MirrorDest, vni, host, key.host_id, plan.id},
				mirror);
	plan.wants.emplace_back(dp::EntryKey{dp::EntryKind::MirrorSource, vni, host, key.host_id, plan.id},
				std::move(mirror));
	// Entry 3 where the server is local. Claimed as naming the server: two
	// servers under one HOST ID conflict wherever they are (R4), and a
	// move between two ports changes no claim.
	if (!s.is_collector() && plan.status == SessionStatus::Active &&
	    plan.server_location.kind == Kind::Local) {
		plan.wants.emplace_back(dp::EntryKey{dp::EntryKind::Decap, vni, {}, key.host_id, {}},
					EntrySpec(dp::Action::naming(server)));
		plan.entry3 = true;
	}
	return plan;
}

bool places_server(const Session &s, const SessionPlan &plan)
{
	return !s.is_collector() &&
	       (plan.status == SessionStatus::Active || plan.status == SessionStatus::ServerUnknown ||
		plan.status == SessionStatus::ServerUnreachable);
}

ServerPlace place_server(std::uint32_t vni, const Mac &mac, const MacTable &macs,
			 const RouteTable &routes, const DecisionConfig &config)
{
	ServerPlace place;
	place.location = macs.locate(vni, mac);
	switch (place.location.kind) {
	case Kind::Unknown:
		place.status = SessionStatus::ServerUnknown;
		break;
	case Kind::Local:
		place.status = SessionStatus::Active;
		break;
	case Kind::Remote:
		place.status = config.require_vtep_route && !routes.reachable(place.location.vtep)
				       ? SessionStatus::ServerUnreachable
				       : SessionStatus::Active;
		break;
	}
	return place;
}

dp::Action server_target(const ServerPlace &place, std::uint32_t vni, std::uint16_t host_id)
{
	dp::Action action;
	const MacLocation &location = place.location;
	if (place.status != SessionStatus::Active) {
		action.kind = dp::Action::Kind::Unresolved;
	} else if (location.kind == Kind::Local) {
		action.kind = dp::Action::Kind::LocalPort;
		action.ifindex = location.ifindex;
	} else {
		action.kind = dp::Action::Kind::Vxlan;
		action.remote_vtep = location.vtep;
		action.vni = vni;
		action.host_id = host_id;
	}
	return action;
}

EntrySpec resolve_decap(const EntrySpec &claimed, const ServerMap &servers)
{
	const auto *server = claimed.server();
	if (!server)
		return claimed;
	return EntrySpec(servers.at(*server));
}

void count_status(DecisionCounters &c, const Session &s, const SessionPlan &plan, bool conflict,
		  int sign)
{
	auto add = [sign](std::uint64_t &v, bool yes) {
		if (yes)
			v += static_cast<std::uint64_t>(static_cast<std::int64_t>(sign));
	};
	add(c.invalid, plan.status == SessionStatus::Invalid);
	add(c.vni_not_local, plan.status == SessionStatus::VniNotLocal);
	add(c.collector_unsupported, plan.status == SessionStatus::CollectorUnsupported);
	add(c.server_unknown, plan.status == SessionStatus::ServerUnknown);
	add(c.server_unreachable, plan.status == SessionStatus::ServerUnreachable);
	add(c.server_kept, !s.is_collector() && plan.server_location.kept);
	add(c.conflicts, conflict); // only sessions with entries claim
	add(c.collector_sessions,
	    s.is_collector() && plan.status == SessionStatus::Active && !conflict);
}

Desired decide(const std::map<SessionKey, Session> &sessions, const MacTable &macs,
	       const RouteTable &routes, const DecisionConfig &config, bool with_views,
	       EntryMap *spare)
{
	PartialDecision d(spare, with_views);
	d.step(sessions, macs, routes, config, sessions.size());
	return d.finish();
}

PartialDecision::PartialDecision(EntryMap *spare, bool with_views) : with_views_(with_views)
{
	// Sessions come in key order, and so does each kind's entries 1 and 2
	// (their keys lead with the session's VNI and host): each claim's slot
	// is most often right after the last claim of its kind.
	last_.fill(out_.entries.end());
	if (spare)
		nodes_.emplace(*spare);
}

bool PartialDecision::step(const std::map<SessionKey, Session> &sessions, const MacTable &macs,
			   const RouteTable &routes, const DecisionConfig &config, std::size_t limit)
{
	auto it = after_ ? sessions.upper_bound(*after_) : sessions.begin();
	const auto before = decided_;
	if (with_views_ && !after_)
		out_.sessions.reserve(sessions.size());
	for (; it != sessions.end() && limit > 0; ++it, --limit) {
		const auto &[key, s] = *it;
		auto plan = plan_session(s, macs, routes, config);
		bool ok = true;
		for (auto &[k, spec] : plan.wants) {
			auto &after = last_[static_cast<std::size_t>(k.kind) & 3];
			ok &= claim(out_.entries, std::move(k), spec, &after, nodes_ ? &*nodes_ : nullptr);
		}
		const bool conflict = !ok;
		count_status(out_.counters, s, plan, conflict, +1);
		if (places_server(s, plan))
			out_.servers.emplace(dp::ServerKey{key.vni, s.server_mac, key.host_id}, *plan.action);
		if (plan.status == SessionStatus::CollectorUnsupported)
			out_.unsupported_collectors.push_back(plan.id);
		++decided_;
		if (!with_views_)
			continue;
		SessionView view;
		view.session = s;
		view.status = conflict ? SessionStatus::Conflict : plan.status;
		// Shown only: no entry depends on the host's location.
		if (key.host_mac && plan.status != SessionStatus::Invalid &&
		    plan.status != SessionStatus::VniNotLocal)
			view.host_location = macs.locate(key.vni, *key.host_mac);
		view.server_location = plan.server_location;
		view.action = plan.action;
		view.entry1 = view.entry2 = plan.action.has_value();
		view.entry3 = plan.entry3;
		out_.sessions.push_back(std::move(view));
	}
	if (it == sessions.end())
		return true;
	if (decided_ > before)
		after_ = std::prev(it)->first;
	return false;
}

Desired PartialDecision::finish()
{
	// Entries 3 to their servers' ports; they sort after entries 1/2.
	for (auto it = out_.entries.lower_bound(dp::EntryKey{dp::EntryKind::Decap, 0, {}, 0, {}});
	     it != out_.entries.end(); ++it)
		it->second = resolve_decap(it->second, out_.servers);
	return std::move(out_);
}

} // namespace evpnmon::consumer
