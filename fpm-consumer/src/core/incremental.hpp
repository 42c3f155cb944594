// fpm-consumer core: the decision kept up to date by change.
//
// decide() recomputes every session; at 100,000 sessions that is tens of
// milliseconds for an event that concerns one MAC. A session's entries
// depend on few inputs: the session itself, its server's place (location
// in its VNI and the reachability of the VTEP behind it) and the other
// sessions of the slots it claims (R4). This class indexes sessions by
// those inputs, recomputes only the sessions an input change names (with
// plan_session(), the same code decide() runs) and replays the claims of
// only the slots those sessions touch (with claim()).
// Entries name their server, and a server claims its entries 3 once for all
// its sessions, so a server's move (port to port, VTEP to VTEP, between a
// port and a VTEP, seen or kept, and to unknown or unreachable and back,
// where its target is Unresolved) changes its targets and its entries 3
// only: O(its HOST IDs), whatever its sessions. The result
// equals decide() over all sessions; Engine checks that with a full pass on
// every audit, and tests/fpm-consumer/test_incremental.cpp checks it after
// each of many random steps.
#pragma once

#include "core/decision.hpp"

#include <map>
#include <optional>
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

	// What one settle() changed in desired().
	struct Changes {
		std::vector<dp::EntryKey> entries; // appeared, changed or disappeared
		std::vector<dp::ServerKey> servers; // target appeared, changed or disappeared
		// With settle(true): every slot whose claims it replayed (slot_of()
		// keys), whether or not its entries changed.
		std::vector<dp::EntryKey> slots;
	};
	// Recomputes what changed since the last call.
	Changes settle(bool with_slots = false);
	// Counts the changes of the decision's inputs: a session added or
	// removed, a server's place (counted when settle() places it anew).
	// Equal at two moments after settle(): no session's decision can
	// differ between them.
	std::uint64_t generation() const { return generation_; }
	bool pending() const
	{
		return !pending_.empty() || routes_dirty_ || !dirty_slots_.empty() || !recount_.empty() ||
		       unsupported_dirty_ || !dirty_servers_.empty();
	}

	// Entries, servers, counters and the unsupported collectors, as
	// decide() has them (without per-session views). Valid after settle().
	const Desired &desired() const { return desired_; }
	std::size_t session_count() const { return tracked_.size(); }
	// Sessions planned so far (its work: a server's move plans none).
	std::uint64_t plans() const { return plans_; }

private:
	friend struct IncrementalTestAccess; // tests: a defect put in desired()

	// A claimant of a slot: a session for its entries 1/2, a server (for
	// all its sessions under one HOST ID, `session` the first of them) for
	// an entry 3.
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
	// claimants, in O(log n).
	struct Slot {
		std::map<const Session *, Member, ByKey> members;
		bool dirty = false;
	};
	using Slots = std::map<dp::EntryKey, Slot>;
	struct Tracked {
		// Its entries 1/2 are moved into their slots (its server claims
		// the entry 3). Its server's location, status and action are
		// those of when it was planned: a move updates the server's
		// record, not its sessions (count() reads the record).
		SessionPlan plan;
		std::vector<Slots::iterator> slots;
		unsigned lost = 0; // slots of entries 1/2 where a claim failed
		bool counted = false;
		bool counted_conflict = false;
		bool targets = false; // one of its server's `active` sessions
	};
	struct MacKeyHash {
		std::size_t operator()(const MacTable::Key &k) const noexcept;
	};
	struct Ipv4Hash {
		std::size_t operator()(const Ipv4 &a) const noexcept;
	};
	using SessionSet = std::unordered_set<const Session *>;
	// A server's sessions under one HOST ID whose entries name it (active,
	// or with the server unknown or unreachable here): the server has a
	// target in desired().servers. While the server is local they claim
	// its entry 3 (decide(): each session in key order) as one member of
	// the slot keyed by the first of them: the owner is the same, and a
	// change of the server's place joins or leaves once.
	struct HostId {
		std::set<const Session *, ByKey> sessions;
		const Session *member = nullptr; // its key in the entry 3's slot
		bool lost = false;               // that claim lost (R4): its sessions conflict
	};
	// A server (VNI, MAC) some session names.
	struct Server {
		SessionSet sessions;
		std::map<std::uint16_t, HostId> active;
		// Its sessions counted with its place (its status, whether it
		// is kept): place() moves them between counters at once.
		std::size_t counted = 0;
		ServerPlace place; // as last computed
		bool placed = false;
	};
	using ServerMac = MacTable::Key; // (VNI, MAC): a server under all its HOST IDs
	void unplan(const Session *s, Tracked &t);
	void plan(const Session *s, Tracked &t);
	void mark(Slots::iterator slot);
	dp::EntryKey entry_key(const Slots::iterator &slot, const Member &m) const;
	void resolve(Slots::iterator slot, std::vector<dp::EntryKey> &changed);
	void recount(const Session *s, Tracked &t);
	void note_unsupported(const Session *s, const Tracked &t, bool add);
	void place(const ServerMac &key, Server &server, std::vector<dp::EntryKey> &changed);
	void claim_decap(const ServerMac &key, const Server &server, std::uint16_t host_id,
			 HostId &claim);
	void set_lost(Member &m, bool lost);
	bool decap_lost(const Session *s, const Tracked &t) const;
	void count(const Session *s, Tracked &t, int sign);
	void index_vtep(const ServerMac &key, const ServerPlace &was, const ServerPlace &now);
	void retarget(const dp::ServerKey &key, const dp::Action &target,
		      std::vector<dp::EntryKey> &changed);
	EntrySpec held(const Member &m) const;

	const MacTable &macs_;
	const RouteTable &routes_;
	const DecisionConfig &config_;
	std::unordered_map<const Session *, Tracked> tracked_;
	Slots slots_;
	// (VNI, server MAC) -> the server and its sessions.
	std::unordered_map<ServerMac, Server, MacKeyHash> servers_;
	std::unordered_set<ServerMac, MacKeyHash> dirty_servers_;
	// VTEP -> the servers behind it; its last reachability.
	struct Vtep {
		std::unordered_set<ServerMac, MacKeyHash> servers;
		bool reachable = false;
	};
	std::unordered_map<Ipv4, Vtep, Ipv4Hash> by_vtep_;
	std::set<dp::ServerKey> retargeted_; // targets changed since settle()
	SessionSet pending_;
	std::vector<Slots::iterator> dirty_slots_;
	std::set<const Session *> recount_;
	bool routes_dirty_ = false;
	std::multiset<std::string> unsupported_;
	bool unsupported_dirty_ = false;
	std::uint64_t plans_ = 0;
	std::uint64_t generation_ = 0;
	Desired desired_;
};

// How many desired entries differ between two decisions (missing on either
// side or with another value), plus one if the counters, the servers'
// targets or the unsupported collectors differ. Zero when the incremental
// state is right.
std::size_t differences(const Desired &a, const Desired &b);
// Its parts: the entries that differ, but for those of the slots in
// `skip_slots` (slot_of() keys); and whether the rest differs.
std::size_t entry_differences(const EntryMap &a, const EntryMap &b,
			      const std::set<dp::EntryKey> &skip_slots = {});
// The same in parts: the keys from `from` on (the first part: none),
// `budget` of them at most (of both maps together; what is left of it
// stays there); `next` is set to where the next part starts, none once
// the comparison is done.
std::size_t entry_differences(const EntryMap &a, const EntryMap &b,
			      const std::set<dp::EntryKey> &skip_slots,
			      const std::optional<dp::EntryKey> &from, std::size_t &budget,
			      std::optional<dp::EntryKey> &next);
bool summary_differs(const Desired &a, const Desired &b);
// The servers' targets that differ, but for the servers in `skip`.
std::size_t server_differences(const ServerMap &a, const ServerMap &b,
			       const std::set<dp::ServerKey> &skip);

} // namespace evpnmon::consumer
