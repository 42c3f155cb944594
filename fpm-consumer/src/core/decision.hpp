// fpm-consumer core: the decision. A pure function from the current inputs
// (sessions, MAC locations, VTEP reachability) to the set of dataplane
// entries this VTEP must have. See docs/exactly-once.md for the rule and its
// proof sketch; this file is its executable form.
#pragma once

#include "core/mac_table.hpp"
#include "core/model.hpp"
#include "core/route_table.hpp"

#include <evpnmon/dataplane/types.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace evpnmon::consumer {

struct DecisionConfig {
	std::set<std::uint32_t> local_vnis; // L2 VNIs configured on this VTEP
	// Require a usable FPM route to a remote server VTEP before encapsulating
	// copies towards it (no copy into the void).
	bool require_vtep_route = true;
};

enum class SessionStatus : std::uint8_t {
	Active,            // entries installed as the rule demands
	// The server has no target from here; entries 1/2 stay, naming it,
	// and its target is Unresolved (no copy):
	ServerUnknown,     // server MAC location unknown
	ServerUnreachable, // server VTEP has no usable route
	VniNotLocal,       // session for a VNI this VTEP does not have
	Conflict,          // another session owns the same (VNI, host, HOST ID) with another server
	Invalid,           // fails evpn_mon_validate() or its options do not validate
	// A collector session whose collector is IPv6: the wire format allows
	// it, this dataplane encapsulates in IPv4 only. Nothing installed.
	CollectorUnsupported,
	// Not installed on this VTEP by the import decision (feed version 4):
	// held for display and the audit, never decided on.
	Denied,    // the import policy denies it
	OverLimit, // a session limit is reached
};
const char *to_string(SessionStatus status);

// What the decision concluded for one session (for display and tests).
struct SessionView {
	Session session;
	MacLocation host_location;
	MacLocation server_location;
	SessionStatus status = SessionStatus::Active;
	bool entry1 = false, entry2 = false, entry3 = false;
	std::optional<dp::Action> action; // the mirror action of entries 1/2
};

struct DecisionCounters {
	std::uint64_t server_unknown = 0;
	std::uint64_t server_kept = 0; // server MAC not seen any more: last location kept
	std::uint64_t server_unreachable = 0;
	std::uint64_t vni_not_local = 0;
	std::uint64_t conflicts = 0;
	std::uint64_t invalid = 0;
	std::uint64_t collector_unsupported = 0;
	std::uint64_t collector_sessions = 0; // collector sessions with entries here

	bool operator==(const DecisionCounters &) const = default;
};

struct Desired {
	// Entries 1/2 of server sessions name their server; entry 3 is
	// resolved to the server's port (the dataplane's decap table holds
	// ports).
	EntryMap entries;
	// The targets of the servers entries name (Unresolved for a server
	// unknown or unreachable from here).
	ServerMap servers;
	std::vector<SessionView> sessions;
	DecisionCounters counters;
	// Ids of the collector sessions in state collector-unsupported (filled
	// with or without views: the daemon logs each once).
	std::vector<std::string> unsupported_collectors;
};

// The ERSPAN action of a collector session (its collector and the ERSPAN
// TLV of its options).
dp::Action erspan_action(const Session &session);

// Where a server's copies go from this VTEP: its location and whether
// sessions of it are active there (Active), or why not (ServerUnknown,
// ServerUnreachable). Every session of the server shares it (R4).
struct ServerPlace {
	MacLocation location;
	SessionStatus status = SessionStatus::ServerUnknown;
	bool operator==(const ServerPlace &) const = default;
};
ServerPlace place_server(std::uint32_t vni, const Mac &mac, const MacTable &macs,
			 const RouteTable &routes, const DecisionConfig &config);
// The target of server (vni, MAC, HOST ID) at its place: Unresolved
// unless the place is Active.
dp::Action server_target(const ServerPlace &place, std::uint32_t vni, std::uint16_t host_id);
// An entry 3 as the dataplane holds it: claimed as naming its server,
// held as the server's port. `servers` has the server's target.
EntrySpec resolve_decap(const EntrySpec &claimed, const ServerMap &servers);

// One session's part of the decision, before sessions meet: everything the
// rule says about S alone. Only the slot claims (claim()) look at other
// sessions. decide() is plan_session() for every session followed by its
// claims in key order; the incremental decision (core/incremental.hpp)
// replays the claims of one slot at a time.
struct SessionPlan {
	SessionStatus status = SessionStatus::Active; // never Conflict: see claim()
	MacLocation server_location;                  // servers only, once known
	// Where the copies go: the ERSPAN action, or the server's target (its
	// entries name the server instead; Unresolved while it is unknown or
	// unreachable).
	std::optional<dp::Action> action;
	std::string id; // the session id its entries 1/2 carry
	// The entries S asks for, in claim order (entry 2, entry 1, entry 3),
	// entry 3 naming the server as entries 1/2 do.
	std::vector<std::pair<dp::EntryKey, EntrySpec>> wants;
	bool entry3 = false;
};
SessionPlan plan_session(const Session &session, const MacTable &macs, const RouteTable &routes,
			 const DecisionConfig &config);
// Its plan placed its server (a server session active, or with a server
// unknown or unreachable from here): it has entries naming the server, and
// its status follows the server's place.
bool places_server(const Session &session, const SessionPlan &plan);

// The slot an entry belongs to: its key without the session. Sessions
// compete for a slot (R4 in docs/exactly-once.md), never across slots.
dp::EntryKey slot_of(const dp::EntryKey &key);
bool same_slot(const dp::EntryKey &a, const dp::EntryKey &b);

// Adds key -> spec to `entries` unless another session of the slot already
// owns the slot's action for this kind of destination with another action.
// Returns false on such a conflict (nothing added). `last`, if given: the
// position of a previous claim, where the search starts (a claim sorting
// right after it costs no search), set to this claim's entry. `spare`, if
// given: the entry is made in one of its nodes instead of a new one.
class SpareNodes;
bool claim(EntryMap &entries, dp::EntryKey key, const EntrySpec &spec,
	   EntryMap::iterator *last = nullptr, SpareNodes *spare = nullptr);

// The nodes of a spare map of entries (a previous decision's), for the
// entries of a decision made in key order. Each kind's claims take the
// nodes of the same kind, in order, so when the keys are the same as last
// time each entry gets the node its key had: the decision's tree keeps its place in memory, audit
// after audit, instead of its nodes and keys being shuffled (and its walks
// slowing down) a little more each time.
class SpareNodes {
public:
	explicit SpareNodes(EntryMap &spare);
	// A node for `key` (empty once the spare is).
	EntryMap::node_type take(const dp::EntryKey &key);
	// A node not used after all.
	void give_back(EntryMap::node_type node);

private:
	EntryMap &spare_;
	std::array<EntryMap::iterator, 4> at_; // per kind, the next node
};

// Adds (sign +1) or takes back (-1) what one session counts for in
// DecisionCounters; `conflict`: it lost a claim.
void count_status(DecisionCounters &counters, const Session &session, const SessionPlan &plan,
		  bool conflict, int sign);

// `with_views`: also fill Desired::sessions (display); reconciliation only
// needs the entries and counters. `spare`: nodes for the entries (see
// claim()), e.g. a previous decision's entries; what it has left stays.
Desired decide(const std::map<SessionKey, Session> &sessions, const MacTable &macs,
	       const RouteTable &routes, const DecisionConfig &config, bool with_views = true,
	       EntryMap *spare = nullptr);

// decide() in parts (decide() is one part over every session): the audit's
// check decides a few thousand sessions at a time, with the events that
// arrive handled between the parts, instead of holding the daemon's loop
// for the whole decision (tens of ms at 100,000 sessions). Each part goes
// on after the last session decided, in key order, over the sessions and
// tables as they are then. Unchanged inputs between the parts give
// decide()'s result; changed ones a mix of the moments, which the caller
// compares only where nothing changed (Engine's check). Not movable: it
// keeps positions in its own entries and in `spare`.
class PartialDecision {
public:
	explicit PartialDecision(EntryMap *spare = nullptr, bool with_views = false);
	PartialDecision(const PartialDecision &) = delete;
	PartialDecision &operator=(const PartialDecision &) = delete;

	// Decides up to `limit` more sessions. True when none is left: then
	// finish().
	bool step(const std::map<SessionKey, Session> &sessions, const MacTable &macs,
		  const RouteTable &routes, const DecisionConfig &config, std::size_t limit);
	// The decision, its entries 3 resolved to their servers' ports. Once.
	Desired finish();
	// The entries decided so far (a decision given up), unresolved.
	EntryMap take_entries() { return std::move(out_.entries); }

private:
	Desired out_;
	// Per kind, the last claim (claim()'s `last`).
	std::array<EntryMap::iterator, 4> last_;
	std::optional<SpareNodes> nodes_;
	std::optional<SessionKey> after_; // the last session decided
	std::size_t decided_ = 0;
	bool with_views_;
};

} // namespace evpnmon::consumer
