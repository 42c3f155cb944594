// C++ facade over the entry maps of the BPF programs (Katran style):
// dp_match (entries 1/2 grouped by match key), dp_decap (entry 3), dp_meta
// (full entry description, what a restart adopts) and dp_stats (per-CPU
// counters). On construction it adopts what the pinned maps hold (a
// previous run) and repairs the lookup maps from dp_meta, so a crash
// mid-update heals.
//
// dp_meta is written in batches (flush(): after a batch of changes, when
// kMetaBatch descriptions wait, and on destruction), because no packet
// reads it and one write per entry cost a quarter of the backend's
// install CPU. A crash loses at most the descriptions not yet flushed:
// the next run drops the lookups they would have named (no description,
// no adoption) and the consumer installs those entries again; a replaced
// entry comes back with its previous action until then.
//
// Profiles: each (session, options) of an installed entry 1/2 with a
// profile owns one dp_profile slot (its sampler and policer bucket are the
// session's own on this VTEP). A change of options is make-before-break:
// a new slot is written first, then the dp_match elements that name the
// old one are replaced (one atomic hash update each), and the old slot is
// reused only after a grace period (kProfileGrace), long after any packet
// that read the old dp_match element has finished with the old profile.
//
// Batches (Dataplane::begin_batch()): until flush(), the dp_match elements
// that changed are only marked (each 4,096 marked are written at once),
// and flush() writes them in two system calls (deletions, then updates)
// instead of one per change (a pass of thousands of changes). What an old state leaves to do once no
// lookup names it (its key's bit, its kind bits and port count, its
// profile and ERSPAN slots, its entry slot) waits in `retires_` for its
// key's write, as it follows the write without a batch. An element the
// kernel refuses, in a batch or not, stays marked, and its retirements
// wait, until a flush or the key's next write writes it. The
// descriptions of removed entries are deleted at the flush too (before
// their slots are free again). dp_decap elements (one per
// server and VNI) are written at once either way.
//
// ERSPAN destinations: each distinct dp::Erspan of installed entries owns
// one dp_erspan slot (refcounted), named by the action's bytes, so entries
// to the same destination share one copy per packet and one GRE sequence
// space. A new slot is written (counters, sequence 0, parameters) before
// any dp_match element names it; a released slot is reused only after
// kProfileGrace (copies in flight carry the slot in their mark). A
// restart adopts the slots with their sequence counters.
//
// Servers: each server set (set_server) owns one dp_server slot holding
// its target; an entry naming it (a Server action) carries the slot. The
// kinds and port counts of such entries (dp_srv_port, targets_port()) are
// kept per server and counted on its target's port, so a move shifts
// them whole: onto the new port before the slot is replaced, off the old
// one after (as an entry's own replacement does). A server is removable
// once nothing names it, including the old states a batch has yet to
// write; its slot's element stays for kProfileGrace after that (a packet
// may have read an element naming it), then the slot is free.
#pragma once

#include "../codec.hpp"
#include "match_bits.hpp"
#include "slot_pool.hpp"
#include "vni_words.hpp"

#include <evpnmon/dataplane/dataplane.hpp>
#include <evpnmon/dataplane/types.hpp>

#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace evpnmon::dp::linux_dp {

struct MapFds {
	int match, decap, meta, stats, gstats;
	int srv_port; // ifindex -> DP_KIND_F_* of the entries copying to LocalPort(ifindex)
	int profile, policer, profile_stats; // session profiles (slot 0 = none)
	int erspan, erspan_seq, erspan_stats; // ERSPAN destinations (slot 0 unused)
	int vni_kinds = -1; // VNI -> DP_KIND_F_* of its entries 1/2 (required)
	// dp_match_gen (the program's .bss): raised after every change of a
	// dp_match element; null: none (nothing caches matches).
	volatile std::uint64_t *match_gen = nullptr;
	// dp_match_bits, mapped (required): the bits of the keys that have
	// a dp_match element.
	std::span<volatile std::uint64_t> match_bits;
	// dp_vni_word, mapped (evpnmon_kinds.h); empty: none (the programs
	// then read nothing of it: tests of the store alone).
	std::span<volatile std::uint32_t> vni_words;
	// true: this process created the maps, so every entry slot's counters
	// are zero until a slot is used (a slot taken for the first time needs
	// no zeroing write); false: adopted maps, any slot may hold counts.
	bool fresh_maps = false;
	// dp_server (server slots); -1: none (set_server: not supported).
	int server = -1;
	// dp_srv_word, mapped (evpnmon_kinds.h): srv_port's words of the
	// ports below DP_PORT_WORDS; empty: none (tests of the store alone).
	std::span<volatile std::uint32_t> srv_words;
};

class EntryStore {
public:
	// max_entries: the size of the entry maps (slot indexes 0..max-1).
	// max_profiles: the size of the profile maps (slots 1..max-1).
	explicit EntryStore(MapFds fds, dp_u32 max_entries = DP_MAX_ENTRIES,
			    dp_u32 max_profiles = DP_MAX_PROFILES);

	~EntryStore();
	EntryStore(const EntryStore &) = delete;
	EntryStore &operator=(const EntryStore &) = delete;

	std::error_code install(const Entry &entry);
	// The capacity error install(entry) would return for want of room,
	// known without changing anything; none when it may fit (slots still
	// in their grace time count as room: install() may reap them). The
	// backend asks before it attaches a program for the entry.
	std::error_code room_for(const Entry &entry) const;
	// room_for(), after writing a batch's pending lookups if the removals
	// waiting for them would make room (their slots are then free).
	std::error_code make_room(const Entry &entry);
	std::error_code remove(const EntryKey &key);
	// Until flush(), dp_match elements are written there (see above).
	void begin_batch() { batching_ = true; }
	// Ends a batch: writes the marked dp_match elements, then what their
	// old states leave to do; then the waiting entry descriptions to
	// dp_meta (one batch). What the kernel refuses waits for the next
	// flush.
	std::error_code flush();
	// Retirements waiting for a dp_match write (a batch not yet flushed,
	// or an element the kernel refused).
	std::size_t waiting_retires() const { return retires_.size(); }
	std::vector<Entry> list() const;
	// Dataplane::visit_entries().
	std::optional<EntryKey> visit_entries(const std::optional<EntryKey> &from, std::size_t limit,
					      const Dataplane::EntryVisitor &visit) const;
	std::optional<Counters> counters(const EntryKey &key) const;
	Counters global_counters() const;
	std::size_t adopted() const { return adopted_; }
	// true if an installed entry sends copies to this local port (a
	// LocalPort action of entry 1/2, a server's target, or the port of
	// an entry 3).
	bool targets_port(std::uint32_t ifindex) const;
	// The local port an installed entry's action names (0: none, or no
	// such entry).
	std::uint32_t port_of_key(const EntryKey &key) const;
	// The local port an action names now, a server's through its target
	// (0: none).
	dp_u32 port_of(const Action &a) const;
	// Servers (Dataplane::set_server and its contract).
	std::error_code set_server(const ServerKey &key, const Action &target);
	std::error_code remove_server(const ServerKey &key);
	std::vector<std::pair<ServerKey, Action>> servers() const;
	// true if an entry, or an old state waiting for a batch's write,
	// names the server.
	bool server_named(const ServerKey &key) const;
	// The local port of the server's target (0: none, or not set).
	dp_u32 server_port(const ServerKey &key) const;
	// Originals dropped at a server port's egress (already mirrored).
	Counters dropped_originals() const;
	// Every ERSPAN destination in use, with its counters.
	std::vector<std::pair<Erspan, ErspanCounters>> erspan_counters() const;
	static constexpr std::chrono::milliseconds kProfileGrace{200};

private:
	struct Rec {
		Action action;
		dp_u32 idx;
		session::Options options;
		dp_u32 prof = 0;
		dp_u32 eslot = 0; // ERSPAN action: its destination slot
	};
	struct ProfKey {
		std::string session;
		session::Options options;
		auto operator<=>(const ProfKey &) const = default;
		bool operator==(const ProfKey &) const = default;
	};
	struct ProfSlot {
		dp_u32 idx;
		std::size_t refs;
	};
	// The slot for (session, options): an existing one (one more user)
	// or a newly written one. 0 without a profile.
	std::error_code acquire_profile(const EntryKey &key,
					const session::Options &options, dp_u32 &slot);
	void release_profile(dp_u32 slot);
	// The destination slot of an ERSPAN action (one more user), or 0.
	std::error_code acquire_erspan(const Action &a, dp_u32 &slot);
	void release_erspan(dp_u32 slot);
	dp_action raw_action(const Rec &rec) const;
	Counters read_stats(int fd, dp_u32 idx) const;
	std::error_code zero_stats(dp_u32 idx);
	// absent_before: the key had no entry before this change (so the
	// kernel holds no element for it unless a batch still marks it).
	std::error_code write_lookup(const EntryKey &key, bool absent_before = false);
	std::optional<dp_match_val> match_val(const dp_match_key &mk) const;
	// What an old state leaves to do once no lookup names it.
	struct Retire {
		EntryKey key;
		Action action; // its kind bits and port count
		dp_u32 prof = 0, eslot = 0;
		bool last_of_key = false; // the key's bit
		std::optional<dp_u32> idx; // its entry slot, free again
	};
	// Now, or after the batch's write of the key's element.
	void retire(Retire r);
	void run_retire(const Retire &r);
	void run_ready_retires();
	std::error_code write_lookups(); // ends the batch
	bool batching_ = false;
	// The dp_match elements waiting for flush(), in the order first
	// marked (parallel arrays, handed to the kernel as they are): the
	// element as built when its key was last marked (while its entries
	// are still in the cache), or a deletion.
	std::vector<dp_match_key> pend_keys_;
	std::vector<dp_match_val> pend_vals_;
	std::vector<std::uint8_t> pend_put_;     // 1: pend_vals_ is the element; 0: delete
	std::vector<std::uint8_t> pend_present_; // 0: the kernel holds none (no deletion)
	std::unordered_map<dp_match_key, std::size_t, codec::BytesHash<dp_match_key>,
			   codec::BytesEq<dp_match_key>>
	    dirty_; // key -> its index in the arrays
	// may_write: a full set of pending elements is written at once.
	void mark(const dp_match_key &mk, bool present, const std::optional<dp_match_val> &v,
		  bool may_write = true);
	void unmark(const dp_match_key &mk);
	// The pending elements to the kernel (the batch stays open).
	std::error_code write_pending();
	// Pending elements written before the flush (bounds their memory:
	// 4,096 elements are 0.9 MB; a 100,000-session batch whole took 62 MB
	// more of RSS after it than without batches).
	static constexpr std::size_t kLookupBatch = 4096;
	std::size_t pend_floor_ = 0; // elements a write refused (still marked)
	std::vector<Retire> retires_;
	// What the waiting retirements hold: entry, profile and ERSPAN slots.
	struct Waiting {
		std::size_t idx = 0, prof = 0, eslot = 0;
		void add(const Retire &r, int d);
	} waiting_;
	// Descriptions of removed entries, deleted at flush(); a slot reused
	// before that is taken out (its new description replaces the old).
	std::unordered_set<dp_u32> meta_gone_;
	void raise_match_gen();
	void write_meta(const EntryKey &key, const Rec &rec);
	std::error_code flush_meta(); // the waiting descriptions, one batch
	void drop_meta(dp_u32 idx);
	static constexpr std::size_t kMetaBatch = 1024;
	std::vector<dp_u32> meta_keys_; // descriptions waiting for flush()
	std::vector<dp_entry_meta> meta_vals_;
	std::unordered_map<dp_u32, std::size_t> meta_pos_; // slot -> index
	void count_target(const Action &a, int delta);
	// Which lookups can hit (evpnmon_kinds.h): refcounts per (VNI, kind
	// bit) for dp_vni_kinds and per (server port, kind bit) for
	// dp_srv_port. add_kinds runs before the entry's lookup element is
	// written (a bit is set before the first element of its kind is
	// visible), drop_kinds after it is gone (cleared after the last).
	struct KindRefs {
		std::array<std::size_t, 9> n{};
		dp_u32 word() const;
	};
	static dp_u32 entry_kind_bit(const EntryKey &key);
	std::error_code add_kinds(const EntryKey &key, const Action &a);
	void drop_kinds(const EntryKey &key, const Action &a);
	int write_kinds(int fd, dp_u32 key, dp_u32 word);
	int write_vni_kinds(dp_u32 vni, dp_u32 word);
	int write_port_kinds(dp_u32 port, dp_u32 word);
	void rebuild_kinds();
	std::unordered_map<dp_u32, KindRefs> vni_kinds_;
	std::unordered_map<dp_u32, KindRefs> port_kinds_;

	MapFds fds_;
	MatchBits match_bits_; // set before a key's element exists, cleared after
	VniWords vni_words_;   // in front of dp_vni_kinds, written after it
	dp_u32 max_entries_;
	dp_u32 max_profiles_;
	int ncpus_;
	std::map<EntryKey, Rec> recs_;
	std::unordered_map<dp_match_key, std::set<EntryKey>,
			   codec::BytesHash<dp_match_key>, codec::BytesEq<dp_match_key>>
	    by_match_;
	std::map<dp_u32, std::size_t> targets_; // LocalPort ifindex -> entries
	std::vector<dp_u32> free_;
	dp_u32 next_ = 0;
	std::vector<dp_stats> zero_stats_; // one per possible CPU
	std::map<ProfKey, ProfSlot> profiles_;
	std::map<dp_u32, ProfKey> prof_owner_;
	SlotPool prof_slots_;
	struct ErSlot {
		dp_u32 idx;
		std::size_t refs;
	};
	std::map<Erspan, ErSlot> erspans_;
	std::map<dp_u32, Erspan> er_owner_;
	struct ServerRec {
		dp_u32 slot;
		Action target; // LocalPort or Vxlan
		// Entries naming it (and old states waiting for a write):
		// their count in targets_, and of each kind bit in
		// port_kinds_, both on the target's port while it is local.
		std::size_t users = 0;
		std::array<std::size_t, 9> kinds{};
	};
	std::map<ServerKey, ServerRec> servers_;
	std::map<dp_u32, ServerKey> srv_owner_;
	SlotPool srv_slots_;
	void adopt_servers();
	std::error_code write_server(dp_u32 slot, const ServerKey &key, const Action &target);
	// Slots past their grace: elements deleted, slots free (all: now).
	void reap_servers(bool all = false);
	// Adds (sign +1) or takes away (-1) a server's kind counts on a port;
	// an add the kernel refuses changes nothing.
	std::error_code shift_port_kinds(dp_u32 port, const std::array<std::size_t, 9> &kinds,
					 int sign);
	SlotPool er_slots_;
	std::size_t adopted_ = 0;
};

} // namespace evpnmon::dp::linux_dp
