#include "core/decision.hpp"

#include "core/session_route.hpp"

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
	}
	return "?";
}

namespace {

using Kind = MacLocation::Kind;

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

// A server's HOST ID and a collector's ID are separate spaces: in one slot
// (kind, VNI, host, ID) the entries of collector sessions and those of
// server sessions are two destinations, which never conflict.
bool to_collector(const dp::Action &a)
{
	return a.kind == dp::Action::Kind::Erspan;
}

// Adds key -> spec unless it conflicts. Returns false on a conflict.
bool claim(EntryMap &entries, dp::EntryKey &&key, const EntrySpec &spec)
{
	std::string session = std::move(key.session);
	key.session.clear();
	auto it = entries.lower_bound(key); // the slot's first entry, if any
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
	const auto pos = entries.emplace_hint(it, std::move(key), spec);
	// Already there: another route of this session (an RD change in
	// flight); the first in key order wins, an equal one is no conflict.
	return entries.size() != before || pos->second == spec;
}

} // namespace

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
//    is reachable); unknown -> no entry at all for S (never a copy into the void);
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
Desired decide(const std::map<SessionKey, Session> &sessions, const MacTable &macs,
	       const RouteTable &routes, const DecisionConfig &config, bool with_views)
{
	Desired out;
	if (with_views)
		out.sessions.reserve(sessions.size());
	auto keep = [&](SessionView &&v) {
		if (with_views)
			out.sessions.push_back(std::move(v));
	};
	for (const auto &[key, s] : sessions) {
		SessionView view;
		if (with_views)
			view.session = s;
		const std::uint32_t vni = key.vni;

		if (!validation_error(s).empty()) {
			view.status = SessionStatus::Invalid;
			++out.counters.invalid;
			keep(std::move(view));
			continue;
		}
		if (!config.local_vnis.contains(vni)) {
			view.status = SessionStatus::VniNotLocal;
			++out.counters.vni_not_local;
			keep(std::move(view));
			continue;
		}
		if (key.host_mac && with_views) // shown only: no entry depends on it
			view.host_location = macs.locate(vni, *key.host_mac);

		// Sessions from the feed always carry their id.
		std::string computed;
		const std::string &id = s.id.empty() ? (computed = make_session_id(key)) : s.id;
		dp::HostMatch host{key.host_mac, key.host_ip};
		std::shared_ptr<const session::Options> profile;
		if (s.options.has_profile())
			profile = std::make_shared<const session::Options>(s.options);

		if (s.is_collector()) {
			if (!s.server_ip || s.server_ip->family != IpAddr::Family::V4) {
				view.status = SessionStatus::CollectorUnsupported;
				++out.counters.collector_unsupported;
				out.unsupported_collectors.push_back(id);
				keep(std::move(view));
				continue;
			}
			const dp::Action action = erspan_action(s);
			view.action = action;
			bool ok = claim(out.entries,
					dp::EntryKey{dp::EntryKind::MirrorDest, vni, host, key.host_id, id},
					EntrySpec::shared(action, profile));
			ok &= claim(out.entries,
				    dp::EntryKey{dp::EntryKind::MirrorSource, vni, host, key.host_id, id},
				    EntrySpec::shared(action, profile));
			view.entry1 = view.entry2 = true;
			if (!ok) {
				view.status = SessionStatus::Conflict;
				++out.counters.conflicts;
			} else {
				++out.counters.collector_sessions;
			}
			keep(std::move(view));
			continue;
		}

		view.server_location = macs.locate(vni, s.server_mac);
		out.counters.server_kept += view.server_location.kept;

		dp::Action action;
		switch (view.server_location.kind) {
		case Kind::Unknown:
			view.status = SessionStatus::ServerUnknown;
			++out.counters.server_unknown;
			keep(std::move(view));
			continue;
		case Kind::Local:
			action.kind = dp::Action::Kind::LocalPort;
			action.ifindex = view.server_location.ifindex;
			break;
		case Kind::Remote:
			if (config.require_vtep_route && !routes.reachable(view.server_location.vtep)) {
				view.status = SessionStatus::ServerUnreachable;
				++out.counters.server_unreachable;
				keep(std::move(view));
				continue;
			}
			action.kind = dp::Action::Kind::Vxlan;
			action.remote_vtep = view.server_location.vtep;
			action.vni = vni;
			action.host_id = key.host_id;
			break;
		}
		view.action = action;

		bool ok = true;
		// Entries 1 and 2 everywhere the VNI exists.
		ok &= claim(out.entries, dp::EntryKey{dp::EntryKind::MirrorDest, vni, host, key.host_id, id},
			    EntrySpec::shared(action, profile));
		view.entry2 = true;
		ok &= claim(out.entries,
			    dp::EntryKey{dp::EntryKind::MirrorSource, vni, host, key.host_id, id},
			    EntrySpec::shared(action, profile));
		view.entry1 = true;
		// Entry 3 where the server is local.
		if (view.server_location.kind == Kind::Local) {
			dp::Action decap;
			decap.kind = dp::Action::Kind::LocalPort;
			decap.ifindex = view.server_location.ifindex;
			ok &= claim(out.entries, dp::EntryKey{dp::EntryKind::Decap, vni, {}, key.host_id, {}},
				    EntrySpec(decap));
			view.entry3 = true;
		}
		if (!ok) {
			view.status = SessionStatus::Conflict;
			++out.counters.conflicts;
		}
		keep(std::move(view));
	}
	return out;
}

} // namespace evpnmon::consumer
