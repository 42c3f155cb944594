#include "core/decision.hpp"

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
	}
	return "?";
}

namespace {

using Kind = MacLocation::Kind;

// Adds (key -> action) unless another session already claimed the key with a
// different action. Returns false on such a conflict.
bool claim(std::map<dp::EntryKey, dp::Action> &entries, const dp::EntryKey &key,
	   const dp::Action &action)
{
	auto [it, inserted] = entries.emplace(key, action);
	return inserted || it->second == action;
}

} // namespace

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
// The dataplane emits one copy per distinct action per packet, so a packet
// matching both entry 1 of H1 and entry 2 of H2 for the same server yields
// one copy.
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

		if ((!key.host_mac && !key.host_ip) || key.host_id == 0) {
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

		dp::HostMatch host{key.host_mac, key.host_ip};

		bool ok = true;
		// Entries 1 and 2 everywhere the VNI exists.
		ok &= claim(out.entries, dp::EntryKey{dp::EntryKind::MirrorDest, vni, host, key.host_id},
			    action);
		view.entry2 = true;
		ok &= claim(out.entries, dp::EntryKey{dp::EntryKind::MirrorSource, vni, host, key.host_id},
			    action);
		view.entry1 = true;
		// Entry 3 where the server is local.
		if (view.server_location.kind == Kind::Local) {
			dp::Action decap;
			decap.kind = dp::Action::Kind::LocalPort;
			decap.ifindex = view.server_location.ifindex;
			ok &= claim(out.entries, dp::EntryKey{dp::EntryKind::Decap, vni, {}, key.host_id},
				    decap);
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
