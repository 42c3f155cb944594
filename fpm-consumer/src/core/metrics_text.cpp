#include "core/metrics_text.hpp"

#include "core/decision.hpp"
#include "core/state_json.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace evpnmon::consumer {

using nlohmann::json;

namespace {

constexpr MetricType C = MetricType::Counter;
constexpr MetricType G = MetricType::Gauge;

// YANG enumerations of the state (yang/evpn-monitor.yang): every value is
// exported, 0 when absent, so a series does not vanish and come back.
constexpr const char *kFeedStates[] = {"subscribing", "synced", "lost"};
constexpr const char *kGates[] = {"feed", "local-macs", "fpm"};
constexpr SessionStatus kStatuses[] = {SessionStatus::Active,      SessionStatus::ServerUnknown,
				       SessionStatus::ServerUnreachable, SessionStatus::VniNotLocal,
				       SessionStatus::Conflict,    SessionStatus::Invalid,
				       SessionStatus::CollectorUnsupported, SessionStatus::Denied,
				       SessionStatus::OverLimit};
constexpr dp::EntryKind kKinds[] = {dp::EntryKind::MirrorSource, dp::EntryKind::MirrorDest,
				    dp::EntryKind::Decap};

using Writer = PrometheusWriter;
using Labels = PrometheusWriter::Labels;

// A counter64 of the state: a decimal string (RFC 7951) or a JSON number.
std::optional<std::uint64_t> u64(const json &v)
{
	if (v.is_number_unsigned())
		return v.get<std::uint64_t>();
	if (v.is_number_integer() && v.get<std::int64_t>() >= 0)
		return static_cast<std::uint64_t>(v.get<std::int64_t>());
	if (!v.is_string())
		return std::nullopt;
	const auto &s = v.get_ref<const std::string &>();
	std::uint64_t out = 0;
	const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
	if (ec != std::errc() || p != s.data() + s.size() || s.empty())
		return std::nullopt;
	return out;
}

const json &member(const json &j, const char *key)
{
	static const json null;
	if (!j.is_object())
		return null;
	const auto it = j.find(key);
	return it == j.end() ? null : *it;
}

// list "item" of container "container", or an empty array
const json &list(const json &top, const char *container, const char *item)
{
	static const json empty = json::array();
	const json &l = member(member(top, container), item);
	return l.is_array() ? l : empty;
}

std::string text(const json &v)
{
	if (v.is_string())
		return v.get<std::string>();
	if (v.is_null())
		return "";
	return v.dump();
}

std::string bool01(const json &v)
{
	return v.is_boolean() && v.get<bool>() ? "1" : "0";
}

std::string sanitize_name(const std::string &name)
{
	std::string out = "evpnmon_";
	for (char ch : name)
		out += (std::isalnum(static_cast<unsigned char>(ch)) != 0) ? ch : '_';
	return out;
}

void render_counters(Writer &w, const json &top)
{
	std::map<std::string, const CounterMetric *> catalogue;
	for (const auto &m : counter_metrics())
		catalogue[m.counter] = &m;
	std::set<std::string> seen;
	for (const auto &c : list(top, "counters", "counter")) {
		const std::string name = text(member(c, "name"));
		const auto value = u64(member(c, "value"));
		if (name.empty() || !value || !seen.insert(name).second)
			continue;
		const auto it = catalogue.find(name);
		if (it == catalogue.end()) {
			const std::string metric = sanitize_name(name);
			w.family(metric, "untyped", "state counter " + name + " (not in the metrics catalogue)");
			w.sample(metric, {}, std::to_string(*value));
			continue;
		}
		const CounterMetric &m = *it->second;
		w.family(m.metric, m.type == MetricType::Counter ? "counter" : "gauge",
			 std::string(m.help) + "; evpnmon-ctl counter " + name);
		w.sample(m.metric, {},
			 m.scale == 1 ? std::to_string(*value)
				      : format_metric_value(static_cast<double>(*value) * m.scale));
	}
}

// Per ERSPAN collector, labelled (collector, span_id). Destinations that
// differ only in version, DSCP, TTL or GRE protocol (two originators
// configuring one collector differently) are summed into one series.
void render_collectors(Writer &w, const json &top)
{
	struct Sum {
		std::uint64_t packets = 0, bytes = 0, no_route = 0, mtu_truncated = 0, errors = 0;
		std::uint64_t last_seq = 0;
	};
	std::map<std::pair<std::string, std::string>, Sum> sums;
	for (const auto &c : list(top, "collectors", "collector")) {
		const json &cnt = member(c, "counters");
		if (!cnt.is_object())
			continue; // the dataplane has no counters for it (yet)
		auto &s = sums[{text(member(c, "collector")), text(member(c, "span-id"))}];
		auto add = [&](std::uint64_t &to, const char *leaf) { to += u64(member(cnt, leaf)).value_or(0); };
		add(s.packets, "packets");
		add(s.bytes, "bytes");
		add(s.no_route, "no-route");
		add(s.mtu_truncated, "mtu-truncated");
		add(s.errors, "errors");
		s.last_seq = std::max(s.last_seq, u64(member(cnt, "last-seq")).value_or(0));
	}
	struct Family {
		const char *metric, *type, *help;
		std::uint64_t Sum::*value;
	};
	constexpr Family families[] = {
		{"evpnmon_erspan_packets_total", "counter",
		 "ERSPAN copies this VTEP sent towards the collector", &Sum::packets},
		{"evpnmon_erspan_bytes_total", "counter",
		 "Octets of the mirrored frames inside those copies", &Sum::bytes},
		{"evpnmon_erspan_no_route_total", "counter",
		 "ERSPAN copies dropped because this VTEP has no route to the collector",
		 &Sum::no_route},
		{"evpnmon_erspan_mtu_truncated_total", "counter",
		 "ERSPAN copies cut to fit the underlay MTU (T bit set)", &Sum::mtu_truncated},
		{"evpnmon_erspan_errors_total", "counter",
		 "ERSPAN copies lost to an encapsulation or redirect failure", &Sum::errors},
		{"evpnmon_erspan_last_seq", "gauge",
		 "Last GRE sequence number this VTEP used towards the collector", &Sum::last_seq},
	};
	for (const auto &f : families) {
		w.family(f.metric, f.type, f.help);
		for (const auto &[labels, s] : sums)
			w.sample(f.metric, {{"collector", labels.first}, {"span_id", labels.second}},
				 std::to_string(s.*f.value));
	}
}

void render_histogram(Writer &w, const std::string &name, const std::string &help,
		      const Histogram &h)
{
	w.family(name, "histogram", help);
	std::uint64_t cumulative = 0;
	for (std::size_t i = 0; i < h.bounds().size(); ++i) {
		cumulative += h.counts()[i];
		w.sample(name + "_bucket", {{"le", format_metric_value(h.bounds()[i])}},
			 std::to_string(cumulative));
	}
	cumulative += h.counts().back();
	w.sample(name + "_bucket", {{"le", "+Inf"}}, std::to_string(cumulative));
	w.sample(name + "_sum", {}, format_metric_value(h.sum()));
	w.sample(name + "_count", {}, std::to_string(h.count()));
}

} // namespace

const std::vector<CounterMetric> &counter_metrics()
{
	// Order: engine_counters() (core/state_json.cpp), then the daemon's own
	// (daemon/consumer.cpp). Help texts say what one unit is.
	static const std::vector<CounterMetric> metrics = {
		// engine
		{"local-mac-events", "evpnmon_local_mac_events_total", C, 1, "Local MAC learning events from the dataplane (learnt and removed)"},
		{"neigh-events", "evpnmon_neigh_events_total", C, 1, "Neighbour (MAC) updates from FPM and the kernel FDB"},
		{"neigh-ignored", "evpnmon_neigh_ignored_total", C, 1, "Neighbour updates ignored (not on a configured VXLAN device, no MAC, flood entry, no VTEP)"},
		{"neigh-unsupported", "evpnmon_neigh_unsupported_total", C, 1, "Neighbour updates with a next-hop group instead of a VTEP (EVPN multihoming), ignored"},
		{"bridge-fdb-events", "evpnmon_bridge_fdb_events_total", C, 1, "Kernel FDB events of the L2VNI bridges' own entries"},
		{"route-events", "evpnmon_route_events_total", C, 1, "Route updates from FPM"},
		{"nexthop-events", "evpnmon_nexthop_events_total", C, 1, "Next-hop group updates from FPM"},
		{"session-events", "evpnmon_session_events_total", C, 1, "Session updates from the feed (snapshots, upserts, erasures, hold expiries)"},
		{"reconciles", "evpnmon_reconciles_total", C, 1, "Reconcile passes (decision and dataplane diff)"},
		{"entries-installed", "evpnmon_entries_installed_total", C, 1, "Dataplane entries installed"},
		{"entries-replaced", "evpnmon_entries_replaced_total", C, 1, "Dataplane entries updated in place (new action or options)"},
		{"server-moves", "evpnmon_server_moves_total", C, 1, "Server targets changed in the dataplane (a monitoring server moved, became unknown or unreachable here or came back, or an audit put a re-pointed one right: one write per VTEP)"},
		{"entries-removed", "evpnmon_entries_removed_total", C, 1, "Dataplane entries removed"},
		{"dataplane-errors", "evpnmon_dataplane_errors_total", C, 1, "Failed dataplane operations, full maps included (retried)"},
		{"dataplane-full-refusals", "evpnmon_dataplane_full_refusals_total", C, 1, "Installs refused because the dataplane was full (--dp-max-entries); each is retried every tick"},
		{"entries-waiting-for-room", "evpnmon_entries_waiting_for_room", G, 1, "Entries whose install or removal failed (most often a full dataplane), retried alone every tick"},
		{"full-passes", "evpnmon_full_passes_total", C, 1, "Full passes: decide over every session and compare with the incremental state (start, each audit's comparison in its repair step unless its check was dropped, resyncs, after errors)"},
		{"full-pass-differences", "evpnmon_full_pass_differences_total", C, 1, "Desired entries a full pass found the incremental decision to have wrong, then repaired (should stay 0)"},
		{"audit-parts", "evpnmon_audit_parts_total", C, 1, "Parts of the audits' re-read, check and repair steps, each in one turn of the event loop (--audit-part sessions a part of the check, twice as many entries a part of the re-read and of the repair)"},
		{"fpm-stale-swept", "evpnmon_fpm_stale_swept_total", C, 1, "FPM records swept after a resync because zebra did not confirm them"},
		{"kernel-deferred-deletes", "evpnmon_kernel_deferred_deletes_total", C, 1, "Kernel FDB deletions deferred (zebra flushes its MACs from the kernel when it stops)"},
		{"local-mac-audit-fixes", "evpnmon_local_mac_audit_fixes_total", C, 1, "Local MAC locations corrected by the periodic audit (missed FDB events)"},
		{"sessions-server-unknown", "evpnmon_sessions_server_unknown", G, 1, "Sessions whose server location was unknown at the last reconcile (their entries stay, copying nothing; a session in conflict too)"},
		{"sessions-server-kept", "evpnmon_sessions_server_kept", G, 1, "Sessions whose server has a kept (not seen any more) location at the last reconcile"},
		{"macs-kept", "evpnmon_macs_kept", G, 1, "Monitoring server MACs whose last location is kept"},
		{"kept-dropped-port-gone", "evpnmon_kept_dropped_port_gone_total", C, 1, "Kept server locations dropped because their local port disappeared"},
		{"sessions-server-unreachable", "evpnmon_sessions_server_unreachable", G, 1, "Sessions whose server VTEP had no usable route at the last reconcile (their entries stay, copying nothing; a session in conflict too)"},
		{"sessions-vni-not-local", "evpnmon_sessions_vni_not_local", G, 1, "Sessions for a VNI this VTEP does not have, at the last reconcile"},
		{"sessions-conflict", "evpnmon_sessions_conflict", G, 1, "Sessions that lost a claim to another one (conflict), whatever their server's place, at the last reconcile"},
		{"sessions-invalid", "evpnmon_sessions_invalid", G, 1, "Invalid sessions at the last reconcile"},
		{"sessions-collector", "evpnmon_sessions_collector", G, 1, "ERSPAN collector sessions with entries on this VTEP at the last reconcile"},
		{"sessions-collector-unsupported", "evpnmon_sessions_collector_unsupported", G, 1, "ERSPAN collector sessions whose collector is IPv6 (not supported: nothing installed), at the last reconcile"},
		{"macs-local", "evpnmon_macs_local", G, 1, "MAC records from local learning"},
		{"macs-fpm", "evpnmon_macs_fpm", G, 1, "MAC records from FPM"},
		{"macs-kernel-fdb", "evpnmon_macs_kernel_fdb", G, 1, "MAC records from the kernel FDB"},
		{"routes", "evpnmon_routes", G, 1, "Routes known from FPM"},
		{"nexthops", "evpnmon_nexthops", G, 1, "Next-hop groups known from FPM"},
		{"sessions-installed", "evpnmon_sessions_installed", G, 1, "Sessions this VTEP's import decision installs (bgpd's import policy and limits)"},
		{"sessions-denied", "evpnmon_sessions_denied", G, 1, "Sessions held, not installed: denied by bgpd's import policy"},
		{"sessions-over-limit", "evpnmon_sessions_over_limit", G, 1, "Sessions held, not installed: refused by a session limit"},
		{"audit-events", "evpnmon_audit_events_total", C, 1, "Audit events: sessions installed, updated, removed, denied, refused, forgotten on this VTEP"},
		{"audit-installs", "evpnmon_audit_installs_total", C, 1, "Audit events: a session installed on this VTEP (new, or no longer denied / over limit)"},
		{"audit-removals", "evpnmon_audit_removals_total", C, 1, "Audit events: an installed session removed (withdrawn, feed lost)"},
		{"audit-updates", "evpnmon_audit_updates_total", C, 1, "Audit events: an installed session's destination or profile changed"},
		{"audit-denials", "evpnmon_audit_denials_total", C, 1, "Audit events: a session denied by the import policy (new, or a flip)"},
		{"audit-refusals", "evpnmon_audit_refusals_total", C, 1, "Audit events: a session refused by a session limit (new, or a flip)"},
		{"audit-forgotten", "evpnmon_audit_forgotten_total", C, 1, "Audit events: a held (never installed) session withdrawn"},
		{"decap-source-events", "evpnmon_decap_source_events_total", C, 1, "Kernel flood entries (zero MAC, remote VTEP) of the configured VXLAN devices, added or deleted"},
		{"decap-sources", "evpnmon_decap_sources", G, 1, "Decapsulation sources (VNI, remote VTEP) held in the dataplane"},
		{"decap-sources-added", "evpnmon_decap_sources_added_total", C, 1, "Decapsulation sources added to the dataplane"},
		{"decap-sources-removed", "evpnmon_decap_sources_removed_total", C, 1, "Decapsulation sources removed from the dataplane"},
		{"decap-source-errors", "evpnmon_decap_source_errors_total", C, 1, "Failed adds or removals of decapsulation sources (retried every tick)"},
		{"decap-source-unsupported", "evpnmon_decap_source_unsupported_total", C, 1, "Kernel flood entries to an IPv6 VTEP: not a decapsulation source (IPv4 VTEPs only)"},
		{"decap-drops-no-tunnel-metadata", "evpnmon_decap_drops_no_tunnel_metadata_total", C, 1, "Copies on the mirror device dropped: no VXLAN tunnel key"},
		{"decap-drops-unknown-source", "evpnmon_decap_drops_unknown_source_total", C, 1, "Copies on the mirror device dropped: the outer source is not a VTEP of the VNI (spoofed or stray)"},
		{"decap-drops-unknown-host-id", "evpnmon_decap_drops_unknown_host_id_total", C, 1, "Copies on the mirror device dropped: no entry 3 for the (VNI, HOST ID)"},
		{"mirror-ceiling-passed-packets", "evpnmon_mirror_ceiling_passed_packets_total", C, 1, "Copies the mirror ceiling let through"},
		{"mirror-ceiling-passed-bytes", "evpnmon_mirror_ceiling_passed_bytes_total", C, 1, "Mirrored octets of the copies the mirror ceiling let through"},
		{"mirror-ceiling-dropped-packets", "evpnmon_mirror_ceiling_dropped_packets_total", C, 1, "Copies dropped by the mirror ceiling (over its rate; originals are never dropped)"},
		{"mirror-ceiling-dropped-bytes", "evpnmon_mirror_ceiling_dropped_bytes_total", C, 1, "Mirrored octets of the copies the mirror ceiling dropped"},
		{"mirror-ceiling-dropped-by-packet-rate", "evpnmon_mirror_ceiling_dropped_by_packet_rate_total", C, 1, "Of the copies the mirror ceiling dropped, those over its packet rate (copies/s)"},
		// daemon: FPM server
		{"fpm-connections", "evpnmon_fpm_connections_total", C, 1, "FPM connections accepted from zebra"},
		{"fpm-disconnections", "evpnmon_fpm_disconnections_total", C, 1, "FPM connections closed"},
		{"fpm-bytes", "evpnmon_fpm_bytes_total", C, 1, "Bytes received on FPM connections"},
		{"fpm-frames", "evpnmon_fpm_frames_total", C, 1, "FPM frames received"},
		{"fpm-non-netlink-frames", "evpnmon_fpm_non_netlink_frames_total", C, 1, "FPM frames of another type than netlink, skipped"},
		{"fpm-broken-frames", "evpnmon_fpm_broken_frames_total", C, 1, "FPM frames whose netlink chain is broken, skipped"},
		{"fpm-framing-resets", "evpnmon_fpm_framing_resets_total", C, 1, "FPM connections reset because the framing was lost (bad version or length)"},
		{"fpm-messages", "evpnmon_fpm_messages_total", C, 1, "Netlink messages decoded from FPM"},
		{"fpm-neigh-messages", "evpnmon_fpm_neigh_messages_total", C, 1, "FPM neighbour (MAC) messages"},
		{"fpm-route-messages", "evpnmon_fpm_route_messages_total", C, 1, "FPM route messages"},
		{"fpm-nexthop-messages", "evpnmon_fpm_nexthop_messages_total", C, 1, "FPM next-hop messages"},
		{"fpm-ignored-messages", "evpnmon_fpm_ignored_messages_total", C, 1, "Well-formed FPM messages of no interest, ignored"},
		{"fpm-malformed-messages", "evpnmon_fpm_malformed_messages_total", C, 1, "Malformed FPM netlink messages, skipped"},
		// daemon: bgpd feed
		{"feed-snapshots", "evpnmon_feed_snapshots_total", C, 1, "Feed snapshots received"},
		{"feed-deltas", "evpnmon_feed_deltas_total", C, 1, "Feed deltas received"},
		{"feed-heartbeats", "evpnmon_feed_heartbeats_total", C, 1, "Feed heartbeats received"},
		{"feed-subscribes", "evpnmon_feed_subscribes_total", C, 1, "Feed subscriptions sent (the first and every re-subscription)"},
		{"feed-gaps", "evpnmon_feed_gaps_total", C, 1, "Feed sequence gaps or epoch changes (each triggers a re-subscription)"},
		{"feed-bad-messages", "evpnmon_feed_bad_messages_total", C, 1, "Undecodable feed messages"},
		{"feed-rejected-sessions", "evpnmon_feed_rejected_sessions_total", C, 1, "Invalid sessions rejected from the feed (invalid options included)"},
		{"feed-rejected-options", "evpnmon_feed_rejected_options_total", C, 1, "Sessions rejected from the feed because their options area does not decode or validate"},
		{"feed-hold-expiries", "evpnmon_feed_hold_expiries_total", C, 1, "Feed hold time expiries (sessions withdrawn)"},
		// daemon: dataplane, event loop, pacing
		{"dataplane-global-drops", "evpnmon_dataplane_global_drops_total", C, 1, "Copies dropped outside any entry (unknown HOST ID, no tunnel metadata, over the copy limit)"},
		{"dataplane-unknown-host-id-copies", "evpnmon_dataplane_unknown_host_id_copies_total", C, 1, "Decapsulated copies with an unknown HOST ID"},
		{"dataplane-dropped-originals", "evpnmon_dataplane_dropped_originals_total", C, 1, "Original frames dropped at a monitoring server's port because the server gets a copy"},
		{"event-handler-errors", "evpnmon_event_handler_errors_total", C, 1, "Exceptions caught in event handlers"},
		{"reconciles-deferred", "evpnmon_reconciles_deferred_total", C, 1, "Reconciles deferred by the pacer"},
		{"last-reconcile-us", "evpnmon_last_reconcile_duration_seconds", G, 1e-6, "Duration of the last reconcile pass"},
		{"kernel-fdb-messages", "evpnmon_kernel_fdb_messages_total", C, 1, "Kernel FDB netlink messages"},
		{"kernel-fdb-overruns", "evpnmon_kernel_fdb_overruns_total", C, 1, "Kernel netlink overruns (ENOBUFS; the FDB is dumped again)"},
		// daemon: this metrics endpoint
		{"metrics-connections", "evpnmon_metrics_connections_total", C, 1, "Connections accepted on the metrics endpoint"},
		{"metrics-requests", "evpnmon_metrics_requests_total", C, 1, "Metrics requests answered (200)"},
		{"metrics-bad-requests", "evpnmon_metrics_bad_requests_total", C, 1, "Metrics requests refused: malformed, oversized, not GET, or another path"},
		{"metrics-timeouts", "evpnmon_metrics_timeouts_total", C, 1, "Metrics connections closed for being too slow"},
		{"metrics-connections-over-limit", "evpnmon_metrics_connections_over_limit_total", C, 1, "Metrics connections closed because the connection limit was reached"},
	};
	return metrics;
}

std::string render_metrics(const json &state, const Histogram *reconcile_duration)
{
	const json &inner = state.contains("evpn-monitor:fpm-consumer")
				    ? state.at("evpn-monitor:fpm-consumer")
				    : state;
	Writer w;

	w.family("evpnmon_gate_open", "gauge",
		 "1 when the input has delivered its first full picture (the dataplane is touched only "
		 "when every gate is open)");
	for (const char *g : kGates)
		w.sample("evpnmon_gate_open", {{"gate", g}}, bool01(member(member(inner, "gates"), g)));

	const json &fpm = member(inner, "fpm");
	w.family("evpnmon_fpm_connected", "gauge", "1 while zebra's FPM connection is up");
	w.sample("evpnmon_fpm_connected", {}, bool01(member(fpm, "connected")));
	w.family("evpnmon_fpm_resyncing", "gauge",
		 "1 while FPM state is being resynchronised after a (re)connection");
	w.sample("evpnmon_fpm_resyncing", {}, bool01(member(fpm, "resyncing")));

	const std::string feed_state = text(member(member(inner, "feed"), "state"));
	w.family("evpnmon_feed_state", "gauge", "1 for the current state of the bgpd session feed");
	bool known_feed_state = false;
	for (const char *s : kFeedStates) {
		known_feed_state |= feed_state == s;
		w.sample("evpnmon_feed_state", {{"state", s}}, feed_state == s ? "1" : "0");
	}
	if (!known_feed_state && !feed_state.empty())
		w.sample("evpnmon_feed_state", {{"state", feed_state}}, "1");

	// Sessions by status: the sessions evpnmon-ctl shows.
	std::map<std::string, std::uint64_t> by_state;
	for (auto s : kStatuses)
		by_state[to_string(s)] = 0;
	for (const auto &s : list(inner, "sessions", "session"))
		++by_state[text(member(s, "status"))];
	w.family("evpnmon_sessions", "gauge", "Monitoring sessions known to this VTEP, by status");
	for (auto s : kStatuses)
		w.sample("evpnmon_sessions", {{"state", to_string(s)}}, std::to_string(by_state[to_string(s)]));
	for (const auto &[name, n] : by_state)
		if (std::none_of(std::begin(kStatuses), std::end(kStatuses),
				 [&](SessionStatus s) { return name == to_string(s); }))
			w.sample("evpnmon_sessions", {{"state", name}}, std::to_string(n));

	// Installed entries by kind, then each entry's dataplane counters.
	const json &entries = list(inner, "entries", "entry");
	std::map<std::string, std::uint64_t> by_kind;
	for (auto k : kKinds)
		by_kind[entry_kind_name(k)] = 0;
	for (const auto &e : entries)
		++by_kind[text(member(e, "kind"))];
	w.family("evpnmon_entries", "gauge", "Dataplane entries installed, by kind");
	for (auto k : kKinds)
		w.sample("evpnmon_entries", {{"kind", entry_kind_name(k)}}, std::to_string(by_kind[entry_kind_name(k)]));
	for (const auto &[kind, n] : by_kind)
		if (std::none_of(std::begin(kKinds), std::end(kKinds),
				 [&](dp::EntryKind k) { return kind == entry_kind_name(k); }))
			w.sample("evpnmon_entries", {{"kind", kind}}, std::to_string(n));

	struct PerEntry {
		const char *leaf, *metric, *help;
	};
	constexpr PerEntry per_entry[] = {
		{"packets", "evpnmon_entry_packets_total",
		 "Packets matched by the entry: for entries 1 and 2 (mirror-source, mirror-dest) one "
		 "copy each unless the session's profile filtered, sampled out or policed it or its "
		 "server has no target here (action none); for entry 3 (decap) one decapsulated copy "
		 "delivered"},
		{"bytes", "evpnmon_entry_bytes_total", "Bytes of the packets matched by the entry"},
		{"drops", "evpnmon_entry_drops_total",
		 "Copies of the entry that could not be sent (redirect error, over the copy limit)"},
		{"filtered", "evpnmon_entry_filtered_total",
		 "Packets matched by the entry that the session's profile did not copy: direction or "
		 "filter lines"},
		{"sampled-out", "evpnmon_entry_sampled_out_total",
		 "Packets matched by the entry that the session's 1-in-N sampler did not copy"},
		{"policed", "evpnmon_entry_policed_total",
		 "Copies of the entry dropped by the session's policer (over its rate)"},
	};
	for (const auto &pe : per_entry) {
		w.family(pe.metric, "counter", pe.help);
		for (const auto &e : entries) {
			const auto v = u64(member(member(e, "counters"), pe.leaf));
			if (!v)
				continue;
			// `session` tells apart the entries of several sessions of one
			// (host, HOST ID); empty for decap, which no session owns.
			w.sample(pe.metric,
				 {{"kind", text(member(e, "kind"))},
				  {"vni", text(member(e, "vni"))},
				  {"host_mac", text(member(e, "host-mac"))},
				  {"host_ip", text(member(e, "host-ip"))},
				  {"host_id", text(member(e, "host-id"))},
				  {"collector_id", text(member(e, "collector-id"))},
				  {"session", text(member(e, "session-id"))}},
				 std::to_string(*v));
		}
	}

	render_collectors(w, inner);

	render_counters(w, inner);

	if (reconcile_duration)
		render_histogram(w, "evpnmon_reconcile_duration_seconds",
				 "Duration of reconcile passes (decision and dataplane diff)",
				 *reconcile_duration);
	return w.take();
}

} // namespace evpnmon::consumer
