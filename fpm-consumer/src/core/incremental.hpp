// fpm-consumer core: the decision kept up to date by change.
//
// decide() recomputes every session; at 100,000 sessions that is tens of
// milliseconds for an event that concerns one MAC. A session's entries
// depend on few inputs: the session itself, its server's MAC location in
// its VNI, the reachability of the VTEP behind which that server lives,
// and the other sessions of the slots it claims (R4). This class indexes
// sessions by those inputs, recomputes only the sessions an input change
// names (with plan_session(), the same code decide() runs) and replays the
// claims of only the slots those sessions touch (with claim()). The result
// equals decide() over all sessions; Engine checks that with a full pass
// on every audit, and tests/fpm-consumer/test_incremental.cpp checks it
// after each of many random steps.
#pragma once

#include "core/decision.hpp"

#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace evpnmon::consumer {

class IncrementalDecision {
public:
	// The tables are read, never written; they must outlive this object.
	IncrementalDecision(const MacTable &macs, const RouteTable &routes,
			    const DecisionConfig &config)
	    : macs_(macs), routes_(routes), config_(config)
	{
	}

	// `session` lives in the caller's session map (a stable node) from
	// add() until remove(), unchanged: a changed session is remove()d,
	// changed, and add()ed again (the indexes hold its old server MAC).
	void add(const Session &session);
	void remove(const Session &session);
	// An input changed: the sessions that depend on it are recomputed on
	// the next settle(). Unknown keys cost one hash lookup.
	void server_mac_changed(std::uint32_t vni, const Mac &mac);
	// Routes or next hops changed: the VTEPs that servers live behind are
	// checked again (cost: the number of distinct server VTEPs).
	void routes_changed();
	// Forget everything (then add() every session again).
	void clear();

	// Recomputes what changed since the last call. Returns the keys whose
	// desired entry appeared, changed or disappeared.
	std::vector<dp::EntryKey> settle();
	bool pending() const
	{
		return !pending_.empty() || routes_dirty_ || !dirty_slots_.empty() || !recount_.empty() ||
		       unsupported_dirty_;
	}

	// Entries, counters and the unsupported collectors, as decide() has them
	// (without per-session views). Valid after settle().
	const Desired &desired() const { return desired_; }
	std::size_t session_count() const { return tracked_.size(); }

private:
	struct Member {
		const Session *session;
		EntrySpec spec;
		bool per_session; // entries 1/2 carry the session id, entry 3 none
		bool lost = false;
	};
	// Claimants in session key order (the order decide() claims in).
	struct ByKey {
		bool operator()(const Session *a, const Session *b) const { return a->key < b->key; }
	};
	// One slot (kind, VNI, host, ID) or an entry 3 (VNI, HOST ID): its
	// claimants. An entry 3 is shared by every session of its server: a
	// local server watching 100,000 hosts has 100,000 claimants, so
	// claimants come and go in O(log n), and its replay only compares.
	struct Slot {
		std::map<const Session *, Member, ByKey> members;
		bool dirty = false;
	};
	using Slots = std::map<dp::EntryKey, Slot>;
	struct Tracked {
		SessionPlan plan; // its wants are moved into the slots
		std::vector<Slots::iterator> slots;
		unsigned lost = 0; // slots where a claim failed
		bool counted = false;
		bool counted_conflict = false;
		std::optional<Ipv4> vtep; // indexed under this server VTEP
	};
	struct MacKeyHash {
		std::size_t operator()(const MacTable::Key &k) const noexcept;
	};
	struct Ipv4Hash {
		std::size_t operator()(const Ipv4 &a) const noexcept;
	};
	using SessionSet = std::unordered_set<const Session *>;

	void unplan(const Session *s, Tracked &t);
	void plan(const Session *s, Tracked &t);
	void mark(Slots::iterator slot);
	dp::EntryKey entry_key(const Slots::iterator &slot, const Member &m) const;
	void resolve(Slots::iterator slot, std::vector<dp::EntryKey> &changed);
	void recount(const Session *s, Tracked &t);
	void note_unsupported(const Session *s, const Tracked &t, bool add);

	const MacTable &macs_;
	const RouteTable &routes_;
	const DecisionConfig &config_;
	std::unordered_map<const Session *, Tracked> tracked_;
	Slots slots_;
	// (VNI, server MAC) -> the server sessions naming it.
	std::unordered_map<MacTable::Key, SessionSet, MacKeyHash> by_server_;
	// Server VTEP -> sessions whose server lives there; its last reachability.
	struct Vtep {
		SessionSet sessions;
		bool reachable = false;
	};
	std::unordered_map<Ipv4, Vtep, Ipv4Hash> by_vtep_;
	SessionSet pending_;
	std::vector<Slots::iterator> dirty_slots_;
	std::set<const Session *> recount_;
	bool routes_dirty_ = false;
	std::multiset<std::string> unsupported_;
	bool unsupported_dirty_ = false;
	Desired desired_;
};

// How many desired entries differ between two decisions (missing on either
// side or with another value), plus one if the counters or the unsupported
// collectors differ. Zero when the incremental state is right.
std::size_t differences(const Desired &a, const Desired &b);

} // namespace evpnmon::consumer
