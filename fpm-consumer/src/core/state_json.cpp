#include "core/state_json.hpp"

#include <ctime>
#include <map>
#include <optional>

namespace evpnmon::consumer {

using nlohmann::json;

const char *entry_kind_name(dp::EntryKind kind)
{
	switch (kind) {
	case dp::EntryKind::MirrorSource:
		return "mirror-source";
	case dp::EntryKind::MirrorDest:
		return "mirror-dest";
	case dp::EntryKind::Decap:
		return "decap";
	}
	return "mirror-source";
}

namespace {

// RFC 3339 (yang:date-and-time), UTC.
std::string format_time(std::int64_t unix_seconds)
{
	const std::time_t t = static_cast<std::time_t>(unix_seconds);
	std::tm tm{};
	gmtime_r(&t, &tm);
	char buf[32];
	std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

std::string port_name(const dp::Dataplane *dataplane, std::uint32_t ifindex)
{
	std::string name = dataplane ? dataplane->port_name(ifindex) : std::string{};
	return name.empty() ? "if" + std::to_string(ifindex) : name;
}

json location_json(const MacLocation &loc, const dp::Dataplane *dataplane)
{
	json j;
	switch (loc.kind) {
	case MacLocation::Kind::Unknown:
		j["kind"] = "unknown";
		break;
	case MacLocation::Kind::Local:
		j["kind"] = "local";
		j["ifindex"] = loc.ifindex;
		j["port"] = port_name(dataplane, loc.ifindex);
		break;
	case MacLocation::Kind::Remote:
		j["kind"] = "remote";
		j["vtep"] = format_ipv4(loc.vtep);
		break;
	}
	if (loc.kept && loc.kind != MacLocation::Kind::Unknown)
		j["kept-since"] = format_time(loc.kept_since);
	return j;
}

// The GRE protocol the copies carry (0 in the options and the action: the
// version's own).
std::uint16_t gre_protocol(std::uint8_t version, std::uint16_t gre_proto)
{
	if (gre_proto)
		return gre_proto;
	return version == 2 ? EVPN_MON_GRE_PROTO_ERSPAN2 : EVPN_MON_GRE_PROTO_ERSPAN3;
}

std::uint16_t gre_protocol(const dp::Erspan &e)
{
	return gre_protocol(e.version, e.gre_proto);
}

json action_json(const dp::Action &a, const dp::Dataplane *dataplane)
{
	json j;
	if (a.kind == dp::Action::Kind::Erspan) {
		j["type"] = "erspan";
		j["collector"] = format_ip(a.erspan.collector);
		j["erspan-version"] = a.erspan.version;
		j["span-id"] = a.erspan.span_id;
		j["dscp"] = a.erspan.dscp;
		j["ttl"] = a.erspan.ttl;
		j["gre-protocol"] = gre_protocol(a.erspan);
	} else if (a.kind == dp::Action::Kind::Unresolved) {
		j["type"] = "none"; // a server without a target from here
	} else if (a.kind == dp::Action::Kind::LocalPort) {
		j["type"] = "local-port";
		j["ifindex"] = a.ifindex;
		j["port"] = port_name(dataplane, a.ifindex);
	} else {
		j["type"] = "vxlan";
		j["remote-vtep"] = format_ipv4(a.remote_vtep);
		j["vni"] = a.vni;
		j["host-id"] = a.host_id;
	}
	return j;
}

} // namespace

json session_json(const SessionView &v, const dp::Dataplane *dataplane)
{
	const auto &k = v.session.key;
	json j;
	j["vni"] = k.vni;
	j["eth-tag"] = k.eth_tag;
	if (k.host_mac)
		j["host-mac"] = format_mac(*k.host_mac);
	if (k.host_ip)
		j["host-ip"] = format_ip(*k.host_ip);
	if (v.session.is_collector()) {
		j["collector-id"] = k.host_id;
		if (v.session.server_ip)
			j["collector-ip"] = format_ip(*v.session.server_ip);
		const auto &e = v.session.options.erspan();
		j["erspan"] = {{"version", e.version},
			       {"span-id", e.span_id},
			       {"dscp", e.dscp},
			       {"ttl", e.ttl},
			       {"gre-protocol", gre_protocol(e.version, e.gre_proto)}};
	} else {
		j["host-id"] = k.host_id;
		j["server-mac"] = format_mac(v.session.server_mac);
		if (v.session.server_ip)
			j["server-ip"] = format_ip(*v.session.server_ip);
	}
	if (!k.rd.empty())
		j["rd"] = k.rd;
	j["originator"] = format_ipv4(k.originator);
	j["local"] = v.session.local;
	if (!v.session.id.empty())
		j["session-id"] = v.session.id;
	if (v.session.options.has_profile())
		j["profile"] = v.session.options.to_string();
	j["status"] = to_string(v.status);
	j["import-state"] = to_string(v.session.import_state);
	if (!v.session.import_reason.empty())
		j["import-reason"] = v.session.import_reason;
	j["host-location"] = location_json(v.host_location, dataplane);
	if (!v.session.is_collector()) // a collector is routed, not located
		j["server-location"] = location_json(v.server_location, dataplane);
	j["roles"] = {{"entry1", v.entry1}, {"entry2", v.entry2}, {"entry3", v.entry3}};
	if (v.action)
		j["action"] = action_json(*v.action, dataplane);
	return j;
}

json entry_json(const dp::EntryKey &key, const EntrySpec &spec, const dp::Dataplane *dataplane)
{
	json j;
	j["kind"] = entry_kind_name(key.kind);
	j["vni"] = key.vni;
	if (key.host.mac)
		j["host-mac"] = format_mac(*key.host.mac);
	if (key.host.ip)
		j["host-ip"] = format_ip(*key.host.ip);
	// A collector session's entries are keyed by the collector ID.
	j[spec.action.kind == dp::Action::Kind::Erspan ? "collector-id" : "host-id"] = key.host_id;
	if (!key.session.empty())
		j["session-id"] = key.session;
	if (spec.options().has_profile())
		j["profile"] = spec.options().to_string();
	j["action"] = action_json(spec.action, dataplane);
	if (dataplane)
		if (auto c = dataplane->counters(key))
			j["counters"] = {{"packets", std::to_string(c->packets)},
					 {"bytes", std::to_string(c->bytes)},
					 {"drops", std::to_string(c->drops)},
					 {"filtered", std::to_string(c->filtered)},
					 {"sampled-out", std::to_string(c->sampled_out)},
					 {"policed", std::to_string(c->policed)}};
	return j;
}

std::vector<Counter> engine_counters(const Engine &e)
{
	const auto &c = e.counters();
	const auto &d = e.desired().counters;
	const auto &a = e.audit_log();
	auto held = [&](ImportState state) {
		std::uint64_t n = 0;
		for (const auto &[k, s] : e.held_sessions())
			n += s.import_state == state;
		return n;
	};
	return {
		{"local-mac-events", c.local_mac_events},
		{"neigh-events", c.neigh_events},
		{"neigh-ignored", c.neigh_ignored},
		{"neigh-unsupported", c.neigh_unsupported},
		{"bridge-fdb-events", c.bridge_fdb_events},
		{"route-events", c.route_events},
		{"nexthop-events", c.nexthop_events},
		{"session-events", c.session_events},
		{"reconciles", c.reconciles},
		{"entries-installed", c.totals.installed},
		{"entries-replaced", c.totals.replaced},
		{"server-moves", c.totals.server_moves},
		{"entries-removed", c.totals.removed},
		{"dataplane-errors", c.totals.errors},
		{"dataplane-full-refusals", c.capacity_errors},
		{"entries-waiting-for-room", e.entries_waiting()},
		{"full-passes", c.full_passes},
		{"full-pass-differences", c.full_pass_differences},
		{"audit-parts", c.audit_parts},
		{"fpm-stale-swept", c.fpm_stale_swept},
		{"kernel-deferred-deletes", c.kernel_deferred_deletes},
		{"local-mac-audit-fixes", c.local_audit_fixes},
		{"sessions-server-unknown", d.server_unknown},
		{"sessions-server-kept", d.server_kept},
		{"macs-kept", e.macs().kept_count()},
		{"kept-dropped-port-gone", c.kept_dropped_port_gone},
		{"sessions-server-unreachable", d.server_unreachable},
		{"sessions-vni-not-local", d.vni_not_local},
		{"sessions-conflict", d.conflicts},
		{"sessions-invalid", d.invalid},
		{"sessions-collector", d.collector_sessions},
		{"sessions-collector-unsupported", d.collector_unsupported},
		{"macs-local", e.macs().count(MacSource::Local)},
		{"macs-fpm", e.macs().count(MacSource::Fpm)},
		{"macs-kernel-fdb", e.macs().count(MacSource::Kernel)},
		{"routes", e.routes().route_count()},
		{"nexthops", e.routes().nexthop_count()},
		{"sessions-installed", e.sessions().size()},
		{"sessions-denied", held(ImportState::Denied)},
		{"sessions-over-limit", held(ImportState::OverLimit)},
		{"audit-events", a.total()},
		{"audit-installs", a.count(AuditEvent::Kind::Install)},
		{"audit-removals", a.count(AuditEvent::Kind::Remove)},
		{"audit-updates", a.count(AuditEvent::Kind::Update)},
		{"audit-denials", a.count(AuditEvent::Kind::Deny)},
		{"audit-refusals", a.count(AuditEvent::Kind::Refuse)},
		{"audit-forgotten", a.count(AuditEvent::Kind::Forget)},
		{"decap-source-events", c.decap_source_events},
		{"decap-sources", e.decap_source_count()},
		{"decap-sources-added", c.decap_sources_added},
		{"decap-sources-removed", c.decap_sources_removed},
		{"decap-source-errors", c.decap_source_errors},
		{"decap-source-unsupported", c.decap_source_unsupported},
	};
}

std::vector<Counter> dataplane_counters(const dp::Dataplane &dataplane)
{
	const auto d = dataplane.decap_drops();
	const auto m = dataplane.ceiling_counters();
	return {
		{"decap-drops-no-tunnel-metadata", d.no_tunnel_metadata},
		{"decap-drops-unknown-source", d.unknown_source},
		{"decap-drops-unknown-host-id", d.unknown_host_id},
		{"mirror-ceiling-passed-packets", m.passed_packets},
		{"mirror-ceiling-passed-bytes", m.passed_bytes},
		{"mirror-ceiling-dropped-packets", m.dropped_packets},
		{"mirror-ceiling-dropped-bytes", m.dropped_bytes},
		{"mirror-ceiling-dropped-by-packet-rate", m.dropped_by_packet_rate},
	};
}

json collectors_json(const Engine &engine, const dp::Dataplane *dataplane)
{
	// Every ERSPAN destination the installed entries use, with the
	// dataplane's counters when it has them; a destination the dataplane
	// reports that no entry uses any more is shown too (its counters stay
	// until the dataplane frees it).
	std::map<dp::Erspan, std::uint64_t> entries;
	for (const auto &[key, spec] : engine.installed())
		if (spec.action.kind == dp::Action::Kind::Erspan)
			++entries[spec.action.erspan];
	std::map<dp::Erspan, std::optional<dp::ErspanCounters>> shown;
	for (const auto &[dest, n] : entries)
		shown[dest];
	if (dataplane)
		for (const auto &[dest, c] : dataplane->erspan_counters())
			shown[dest] = c;
	json list = json::array();
	for (const auto &[dest, c] : shown) {
		json j;
		j["collector"] = format_ip(dest.collector);
		j["span-id"] = dest.span_id;
		j["erspan-version"] = dest.version;
		j["dscp"] = dest.dscp;
		j["ttl"] = dest.ttl;
		j["gre-protocol"] = gre_protocol(dest);
		const auto n = entries.find(dest);
		j["entries"] = n == entries.end() ? 0 : n->second;
		if (c)
			j["counters"] = {{"packets", std::to_string(c->packets)},
					 {"bytes", std::to_string(c->bytes)},
					 {"no-route", std::to_string(c->no_route)},
					 {"mtu-truncated", std::to_string(c->mtu_truncated)},
					 {"errors", std::to_string(c->errors)},
					 {"last-seq", c->last_seq}};
		list.push_back(std::move(j));
	}
	return {{"collector", list}};
}

json counters_json(const std::vector<Counter> &counters)
{
	json list = json::array();
	for (const auto &[name, value] : counters)
		list.push_back({{"name", name}, {"value", std::to_string(value)}});
	return {{"counter", list}};
}

namespace {

void add_sessions_entries_collectors(json &j, const Engine &engine, const dp::Dataplane *dataplane)
{
	// The reconciler keeps only entries; recompute the per-session views.
	const Desired shown = engine.preview();
	json sessions = json::array();
	for (const auto &v : shown.sessions)
		sessions.push_back(session_json(v, dataplane));
	// Sessions the import decision holds back: shown with their decision,
	// never located or given entries.
	for (const auto &[k, s] : engine.held_sessions()) {
		SessionView v;
		v.session = s;
		v.status = s.import_state == ImportState::OverLimit ? SessionStatus::OverLimit
								    : SessionStatus::Denied;
		auto held = session_json(v, dataplane);
		held.erase("host-location");
		held.erase("server-location");
		sessions.push_back(std::move(held));
	}
	j["sessions"] = {{"session", sessions}};
	json entries = json::array();
	// An entry naming a server is shown with its server's target: where
	// its copies go now.
	const auto &targets = engine.server_targets();
	for (const auto &[key, spec] : engine.installed()) {
		const auto *server = spec.server();
		if (!server) {
			entries.push_back(entry_json(key, spec, dataplane));
			continue;
		}
		auto target = targets.find(*server);
		EntrySpec shown = spec;
		if (target != targets.end())
			shown.action = target->second;
		auto j = entry_json(key, shown, dataplane);
		if (target == targets.end()) // never set: the entry copies nothing
			j.erase("action");
		entries.push_back(std::move(j));
	}
	j["entries"] = {{"entry", entries}};
	j["collectors"] = collectors_json(engine, dataplane);
}

} // namespace

json engine_state_json(const Engine &engine, const dp::Dataplane *dataplane,
		       const std::vector<Counter> &extra_counters, StateParts parts)
{
	json j;
	j["gates"] = {{"feed", engine.gate_open(Gate::Feed)},
		      {"local-macs", engine.gate_open(Gate::LocalMacs)},
		      {"fpm", engine.gate_open(Gate::Fpm)}};
	if (parts == StateParts::Full)
		add_sessions_entries_collectors(j, engine, dataplane);
	auto counters = engine_counters(engine);
	if (dataplane)
		for (auto &c : dataplane_counters(*dataplane))
			counters.push_back(std::move(c));
	counters.insert(counters.end(), extra_counters.begin(), extra_counters.end());
	j["counters"] = counters_json(counters);
	return j;
}

} // namespace evpnmon::consumer
