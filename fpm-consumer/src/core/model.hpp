// fpm-consumer core: the inputs the decision works on (plain data).
#pragma once

#include <evpnmon/dataplane/types.hpp>

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace evpnmon::consumer {

using dp::IpAddr;
using dp::Mac;
using Ipv4 = std::array<std::uint8_t, 4>;

// Identity of a monitoring session in the feed (see proto/monitor_feed.proto:
// a DEL matches on vni, eth_tag, host_mac, host_ip, host_id or collector_id,
// rd, originator).
struct SessionKey {
	std::uint32_t vni = 0;
	std::uint32_t eth_tag = 0;
	std::optional<Mac> host_mac;
	std::optional<IpAddr> host_ip;
	// The server's HOST ID, or the collector ID of a collector session:
	// the two are separate spaces (the route's destination kind).
	std::uint16_t host_id = 0;
	bool collector = false;
	std::string rd;
	Ipv4 originator{};

	// The defaulted order, field by field (dp::compare_macs: why by hand).
	std::strong_ordering operator<=>(const SessionKey &o) const
	{
		if (auto c = vni <=> o.vni; c != 0)
			return c;
		if (auto c = eth_tag <=> o.eth_tag; c != 0)
			return c;
		if (auto c = dp::compare_optional(host_mac, o.host_mac, dp::compare_macs); c != 0)
			return c;
		if (auto c = dp::compare_optional(host_ip, o.host_ip, std::compare_three_way{}); c != 0)
			return c;
		if (auto c = host_id <=> o.host_id; c != 0)
			return c;
		if (auto c = collector <=> o.collector; c != 0)
			return c;
		if (auto c = rd <=> o.rd; c != 0)
			return c;
		return dp::octets_value(originator) <=> dp::octets_value(o.originator);
	}
	bool operator==(const SessionKey &) const = default;
};

// This VTEP's import decision for a session (feed version 4: bgpd's
// `monitor import` policy and session limits decide; the consumer only
// follows). Only Installed sessions reach the decision and the dataplane;
// the others are held for display and the audit. A bgpd of an older feed
// version decides nothing: every session it sends is Installed.
enum class ImportState : std::uint8_t { Installed = 0, Denied = 1, OverLimit = 2 };
const char *to_string(ImportState state); // installed | denied | over-limit

struct Session {
	SessionKey key;
	Mac server_mac{};                // zero for a collector session
	std::optional<IpAddr> server_ip; // a collector session: the collector
	bool local = false; // originated by this leaf's own configuration
	// Stable identity (evpn_mon_session_id(): "ORIGINATOR/VNI/HOST-ID/
	// HOST-MAC/HOST-IP"): names the session's entries 1/2 in the dataplane,
	// its counters and log lines. Unlike `key` it does not change with the
	// RD, so an RD change of the originator's VNI keeps the entries.
	std::string id;
	// The mirror profile; no profile = every packet, both ways, whole.
	// A collector session's options also carry its ERSPAN encapsulation
	// (Options::erspan()).
	session::Options options;
	ImportState import_state = ImportState::Installed;
	std::string import_reason; // bgpd's words: the rule, the limit

	bool is_collector() const { return key.collector; }
	bool installed() const { return import_state == ImportState::Installed; }

	auto operator<=>(const Session &) const = default;
};

// What an entry does: everything of dp::Entry but its key. The reconciler
// compares it whole, so a new profile of a session is an update of its
// entries in place (same key), never a removal and a new entry.
// The options are a session::Options, a handle on the one struct the
// session holds: a spec made for each entry of each decision copies a
// pointer, and allocates nothing.
class EntrySpec {
public:
	EntrySpec() = default;
	EntrySpec(const dp::Action &action, const session::Options &options = {})
	    : action(action), options_(options.has_profile() ? options : session::Options{})
	{
	}

	// Where the copies go. Entries of a server session name their server
	// (Action::Kind::Server) and never change when it moves: the server's
	// target (ServerMap) does, one write per VTEP (the reconciler).
	dp::Action action;
	// The profile (a no-profile Options: none).
	const session::Options &options() const { return options_; }
	// The server this entry names, if any.
	const dp::ServerKey *server() const
	{
		return action.kind == dp::Action::Kind::Server ? &action.server : nullptr;
	}

	// *this == EntrySpec(action, options), without making that spec.
	bool holds(const dp::Action &a, const session::Options &o) const
	{
		return action == a && (o.has_profile() ? options_ == o : !options_.has_profile());
	}

	bool operator==(const EntrySpec &o) const
	{
		return action == o.action && options_ == o.options_;
	}

private:
	session::Options options_;
};
using EntryMap = std::map<dp::EntryKey, EntrySpec>;
// Each server's target: where the copies of the entries naming it go from
// this VTEP (LocalPort, or Vxlan to its VTEP).
using ServerMap = std::map<dp::ServerKey, dp::Action>;

inline dp::Entry to_entry(const dp::EntryKey &key, const EntrySpec &spec)
{
	return dp::Entry{key, spec.action, spec.options()};
}

// Where a MAC lives as seen from this VTEP.
struct MacLocation {
	enum class Kind : std::uint8_t { Unknown, Local, Remote };
	Kind kind = Kind::Unknown;
	std::uint32_t ifindex = 0; // Local: bridge port
	Ipv4 vtep{};               // Remote: VTEP behind which the MAC lives
	// Not seen any more: the last known location of a monitoring server's
	// MAC, kept (see MacTable) since `kept_since` (Unix time, seconds).
	bool kept = false;
	std::int64_t kept_since = 0;

	static MacLocation local(std::uint32_t ifindex) { return {Kind::Local, ifindex, {}, false, 0}; }
	static MacLocation remote(Ipv4 vtep) { return {Kind::Remote, 0, vtep, false, 0}; }
	// Same place (ignores whether it is kept).
	bool same_place(const MacLocation &o) const
	{
		return kind == o.kind && ifindex == o.ifindex && vtep == o.vtep;
	}
	bool operator==(const MacLocation &) const = default;
};

std::string to_string(const MacLocation &loc);
std::string format_mac(const Mac &mac);
std::string format_ipv4(const Ipv4 &ip);
std::string format_ip(const IpAddr &ip);
std::optional<Mac> parse_mac_text(const std::string &text);
std::optional<Ipv4> parse_ipv4_text(const std::string &text);

} // namespace evpnmon::consumer
