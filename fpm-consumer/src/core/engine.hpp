// fpm-consumer core: the state machine that owns the inputs, runs the
// decision and reconciles the dataplane. Single-threaded, no I/O of its own:
// the daemon feeds it decoded events and timer ticks; tests do the same.
#pragma once

#include "core/audit.hpp"
#include "core/background_release.hpp"
#include "core/decision.hpp"
#include "core/heap.hpp"
#include "core/incremental.hpp"
#include "core/mac_table.hpp"
#include "core/reconciler.hpp"
#include "core/route_table.hpp"
#include "core/updates.hpp"

#include <evpnmon/dataplane/dataplane.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace evpnmon::consumer {

struct EngineConfig {
	DecisionConfig decision;
	std::map<std::uint32_t, std::uint32_t> vxlan_ifindex_to_vni;
	// L2VNI bridges (NDA_MASTER of the bridge's own FDB entries in the kernel
	// FDB): where the bridge forwards a MAC, local port or VXLAN device.
	std::map<std::uint32_t, std::uint32_t> bridge_ifindex_to_vni;
	std::uint32_t main_table = 254; // routes of other tables are ignored
	// A kernel FDB deletion takes effect only after this many tick()s with
	// zebra connected: when zebra stops it flushes its remote MACs from the
	// kernel, possibly just before its FPM connection is seen closing.
	unsigned kernel_delete_delay_ticks = 4;
	// Does this bridge port still exist? A monitoring server's MAC that is
	// no longer seen keeps its last location (MacTable pinning), a local
	// one only while its port exists. Unset: assumed to exist.
	std::function<bool(std::uint32_t ifindex)> port_exists;
	// Unix time in seconds for "kept since" (unset: the system clock).
	std::function<std::int64_t()> wall_clock;
	// The audit: events kept for `history` (0: none), where each event's
	// log line goes, and its clock (Unix ms; unset: the system clock).
	std::size_t audit_history = kDefaultAuditHistory;
	AuditLog::Sink audit_sink;
	AuditLog::Clock audit_clock;
	// Keep the dataplane's decapsulation sources (VNI, remote VTEP) equal
	// to the kernel's flood entries of the configured VXLAN devices. Off
	// when the kernel FDB is not read: then the sources are left as they
	// are (nothing to learn them from).
	bool decap_sources = true;
	// Destroy the states the audit and a full pass free whole (what a
	// decision left of its spare nodes, a check's changed keys) on a
	// thread of their own (core/background_release.hpp): the daemon. Off,
	// they are destroyed in the step that frees them.
	bool release_in_background = false;
	// The audit's check decides this many sessions per reconcile, and its
	// re-read reads and its repair compares and diffs twice as many keys,
	// the events that arrived handled between the parts; audit() runs
	// whole. At 4,096 a part holds the loop a few ms at 100,000 sessions
	// (docs/benchmarks.md, "The audit's re-read in parts").
	std::size_t audit_part_sessions = 4096;
};

// A decapsulation source: (VNI, remote VTEP) of a flood entry.
using DecapSource = std::pair<std::uint32_t, Ipv4>;

// Inputs that must have delivered their first full picture before the engine
// touches the dataplane (so a restart never removes correct entries early).
enum class Gate : std::uint8_t { Feed = 0, LocalMacs = 1, Fpm = 2 };
inline constexpr std::size_t kGateCount = 3;
const char *to_string(Gate gate);

struct EngineCounters {
	std::uint64_t local_mac_events = 0;
	std::uint64_t local_mac_changes = 0; // events that changed a resolved location
	std::uint64_t neigh_events = 0;
	std::uint64_t neigh_ignored = 0;     // not on a known VXLAN device, no MAC, ...
	std::uint64_t neigh_unsupported = 0; // NDA_NH_ID (EVPN-MH) instead of NDA_DST
	std::uint64_t bridge_fdb_events = 0; // kernel: the bridge's own (master) FDB entries
	std::uint64_t route_events = 0;
	std::uint64_t nexthop_events = 0;
	std::uint64_t session_events = 0;
	std::uint64_t reconciles = 0;
	std::uint64_t fpm_stale_swept = 0;
	std::uint64_t kernel_deferred_deletes = 0; // kernel FDB deletions while zebra was away
	std::uint64_t local_audit_fixes = 0;       // local MAC changes found by an audit
	// Full passes (start, audits, resyncs, after dataplane errors): decide()
	// over every session compared with the incremental state; and the
	// desired entries they found the incremental decision to have wrong
	// (repaired by the pass, or by the audit's repair step that compared;
	// any non-zero value is a defect to report).
	std::uint64_t full_passes = 0;
	std::uint64_t full_pass_differences = 0;
	// Parts of the audits' check and repair steps (a reconcile each).
	std::uint64_t audit_parts = 0;
	std::uint64_t capacity_errors = 0; // installs a full dataplane refused
	std::uint64_t kept_dropped_port_gone = 0;  // kept server locations whose port vanished
	// Kernel flood entries (zero MAC, a dst) of the configured VXLAN
	// devices, and what became of them in the dataplane.
	std::uint64_t decap_source_events = 0;
	std::uint64_t decap_sources_added = 0;
	std::uint64_t decap_sources_removed = 0;
	std::uint64_t decap_source_errors = 0; // failed adds/removes (retried on the tick)
	// Flood entries to an IPv6 VTEP: FRR 8.4's EVPN has IPv4 VTEPs only,
	// and so has the dataplane's source check; counted, never a source.
	std::uint64_t decap_source_unsupported = 0;
	// Pairs a sync examined (its work: the changed and failed ones, every
	// one only at the first sync and after a complete kernel dump).
	std::uint64_t decap_source_checks = 0;
	ReconcileStats totals; // summed over every reconcile
};

class Engine {
public:
	Engine(dp::Dataplane &dataplane, EngineConfig config);

	// --- inputs ---
	void local_mac(const dp::MacEvent &event);
	void neigh(MacSource source, const NeighUpdate &update);
	void route(const RouteUpdate &update);
	void nexthop(const NexthopUpdate &update);
	// Sessions of every import state: only Installed ones reach the
	// decision; the others are held (held_sessions()). Each change of what
	// is installed or held is an audit event. `cause`: why sessions that
	// are not in `sessions` go (the audit's reason for their removal).
	void replace_sessions(const std::vector<Session> &sessions,
			      const std::string &cause = "withdrawn by bgpd");
	void upsert_session(const Session &session);
	void erase_session(const SessionKey &key, const std::string &cause = "withdrawn by bgpd");

	// --- resync ---
	void open_gate(Gate gate);
	bool gate_open(Gate gate) const { return gates_[static_cast<std::size_t>(gate)]; }
	bool all_gates_open() const;
	void fpm_lost();        // keep what FPM told us, but mark it stale
	void fpm_resync_done(); // sweep what the new connection did not confirm
	bool fpm_resyncing() const { return fpm_resyncing_; }
	void kernel_resync_begin();
	void kernel_resync_done();
	// Local MAC audit: mark, let the dataplane re-dump its FDB, sweep what
	// the dump did not confirm (a missed netlink event cannot stick).
	void local_resync_begin();
	void local_resync_done();
	// Periodic housekeeping (the daemon calls it every 250 ms).
	void tick();

	// --- output ---
	// Something to do: inputs changed, a full pass is due, entries that
	// failed wait for their retry (tick() schedules it), servers a re-read
	// left named by none wait for a flush, or a step of the audit waits.
	bool dirty() const
	{
		return full_ || incremental_.pending() || retry_due_ || flush_due_ || decap_dirty_ ||
		       reread_due_ || check_due_ || repair_due_;
	}
	// Inputs changed that the next reconcile decides on: what an audit's
	// step waits for. Not retries of failed entries nor decapsulation
	// sources: those may wait for every tick while the dataplane is full,
	// and the audit would wait with them.
	bool inputs_pending() const { return full_ || incremental_.pending(); }
	// Decide and reconcile when dirty (or forced: a full pass) and every
	// gate is open. Normally only the sessions that inputs named since the
	// last pass are decided again and only their entries diffed.
	std::optional<ReconcileStats> reconcile(bool force = false);
	// The audit, in steps. At 100,000 sessions the whole audit holds the
	// daemon's loop about 0.3 s; in steps, with events handled
	// between them, an event waits for one step at most:
	//  1. ask_reread(): the installed entries, read again from the
	//     dataplane, in parts of 2 * audit_part_sessions entries, one per
	//     reconcile (the step waits until the last, audit_step_waiting());
	//  2. ask_check(): decide() over every session, in parts of
	//     EngineConfig::audit_part_sessions, one per reconcile (the step
	//     waits until the last, audit_step_waiting()), kept for step 3
	//     (when the incremental state must be built anew, it is built
	//     there, and nothing is kept to compare);
	//  3. ask_repair(): that decision compared with the incremental state
	//     (differences counted in full_pass_differences; any rebuilds the
	//     incremental state), and the whole desired set diffed against
	//     what the dataplane has (step 1 and every pass since), each in
	//     parts of 2 * audit_part_sessions entries, one per reconcile.
	// Events between the steps and the parts are reconciled as usual,
	// against the entries step 1 read (during it, a pass writes a key to
	// the dataplane and to the view together; a key not read yet keeps the
	// view's state until its part, and what the re-read finds there is
	// diffed by the repair, whole after it). A decision whose parts saw
	// inputs change is a mix of moments; but the claims of a slot whose claimants
	// the incremental decision did not touch since the first part are the
	// same at every moment. So the slots it touches from the first part
	// to the comparison (and the servers it retargets) are left out: every
	// other key is compared as a decision made at once would compare it,
	// without holding the loop for the whole; a defect on a key changed in
	// the window waits for the next audit. The counters, servers and
	// unsupported collectors are compared as they were when the decision
	// was made if no input changed between its parts (the incremental
	// decision's generation()); otherwise the servers but those retargeted,
	// the counters and collectors not at all. A window that touches more
	// than a quarter of the entries (and 64) drops the check (it would
	// compare little, and what it left out would cost as much memory as
	// the decision); so do a full pass and the next re-read.
	// A pass that carries events' changes leaves the next part to the
	// pass after it (every other pass at most).
	// While the re-read goes on, the other steps' parts wait: the
	// repair's diff starts on what it read.
	// audit(): all three in one reconcile, whole; reread(): step 1 whole.
	void ask_reread();
	void reread()
	{
		ask_reread();
		reread_part(true);
	}
	void ask_check() { check_due_ = true; }
	// Its reconciles diff whole only if no whole diff ran since the
	// re-read (or its comparison found the incremental state wrong);
	// either way it is a step the daemon sees run.
	void ask_repair() { repair_due_ = true; }
	bool audit_step_waiting() const { return reread_due_ || check_due_ || repair_due_; }
	void audit()
	{
		reread();
		check_due_ = repair_due_ = audit_whole_ = true;
	}
	// Entries whose install or removal failed, most often for lack of room
	// (retried alone every tick).
	std::size_t entries_waiting() const { return reconciler_.failed().size(); }

	const Desired &desired() const { return incremental_.desired(); }
	const EntryMap &installed() const { return reconciler_.installed(); }
	// Sessions the incremental decision has planned (its work).
	std::uint64_t plans() const { return incremental_.plans(); }
	// The targets of the servers the installed entries name.
	const std::map<dp::ServerKey, dp::Action> &server_targets() const
	{
		return reconciler_.servers();
	}
	// Installed sessions (the decision's input) and the held ones.
	const std::map<SessionKey, Session> &sessions() const { return sessions_; }
	const std::map<SessionKey, Session> &held_sessions() const { return held_; }
	const AuditLog &audit_log() const { return audit_; }
	// Decapsulation sources: from the kernel's flood entries (a deleted
	// one stays until its deletion stands), and what this engine made the
	// dataplane hold.
	std::set<DecapSource> decap_sources() const;
	const std::set<DecapSource> &decap_applied() const { return decap_applied_; }
	// The pairs the dataplane holds: this engine's view, or without the
	// kernel FDB (nothing maintained) the dataplane's own count.
	std::size_t decap_source_count() const
	{
		return config_.decap_sources ? decap_applied_.size() + decap_foreign_.size()
					     : dp_.decap_sources().size();
	}
	// Sources whose add or removal failed (retried alone on the tick).
	std::size_t decap_waiting() const { return decap_failed_.size(); }
	const MacTable &macs() const { return macs_; }
	const RouteTable &routes() const { return routes_; }
	const EngineCounters &counters() const { return counters_; }
	const EngineConfig &config() const { return config_; }
	// Recompute the decision without touching the dataplane (display).
	Desired preview() const;

private:
	// Tests break the incremental state through it, to see the check find
	// and repair what only a defect would cause.
	friend struct EngineTestAccess;

	bool bridge_neigh(const NeighUpdate &u);
	// A monitoring server's MAC keeps its last location; a collector has no
	// MAC (it is reached by the underlay's routing).
	void pin(const Session &s)
	{
		if (!s.is_collector())
			macs_.pin(s.key.vni, s.server_mac);
	}
	void unpin(const Session &s)
	{
		if (!s.is_collector() && macs_.unpin(s.key.vni, s.server_mac))
			incremental_.server_mac_changed(s.key.vni, s.server_mac);
	}
	void drop_kept_ports();
	// A MAC's resolved location changed: the sessions it serves follow.
	void mac_changed(bool changed, std::uint32_t vni, const Mac &mac)
	{
		if (changed)
			incremental_.server_mac_changed(vni, mac);
	}
	ReconcileStats full_pass();
	// A full pass's check: decide() over every session compared with the
	// incremental state at once. True when it rebuilt the incremental
	// state: every entry must then be diffed.
	bool check_all();
	// One part of the re-read, or all that is left when `whole`; the step
	// is over when reread_due_ is false.
	void reread_part(bool whole);
	// The audit's check in its two steps (see ask_reread()): the decision, in
	// parts, and its comparison. True when either rebuilt the incremental
	// state. check_part(): one part of the decision, or all that is left
	// when `whole`; the step is over when check_due_ is false.
	bool check_part(bool whole);
	// One part of the repair: of the comparison, then of the whole diff
	// (added to `st`), or all of both when `whole`. The step is over when
	// repair_due_ is false.
	void repair_part(ReconcileStats &st, bool whole);
	// What one settle() changed, left out of the pending check's
	// comparison; drops the check when that is too much.
	void note_window(const IncrementalDecision::Changes &changed);
	void drop_check();
	// A compared decision's entries kept as the next decision's nodes
	// (decide()'s `spare`): the check allocates no tree each audit, and
	// its memory stays in use between audits instead of being freed and
	// faulted in again. What a decision left of the spare before is freed.
	void keep_spare(EntryMap &&entries);
	// The incremental state built anew from every session.
	void rebuild_incremental();
	// After a state freed whole: glibc's unsorted chunks sorted in the step
	// (core/heap.hpp), unless the state went to release_'s thread (its
	// frees come later; the daemon's jemalloc has no such list anyway).
	void sort_freed()
	{
		if (!release_.threaded())
			sort_freed_chunks();
	}
	// Session bookkeeping shared by the feed's inputs (no audit, no count).
	void install(const Session &s);
	void uninstall(std::map<SessionKey, Session>::iterator it);
	void audit(AuditEvent::Kind kind, const Session &s, std::optional<ImportState> previous,
		   std::string reason)
	{
		audit_.record(audit_event(kind, s, previous, std::move(reason)));
	}
	// Flood entries of the kernel FDB -> decapsulation sources.
	void flood_entry(const NeighUpdate &u, std::uint32_t vni);
	void sync_decap();

	dp::Dataplane &dp_;
	EngineConfig config_;
	// Before everything that hands it states: destroyed last, once what it
	// holds is destroyed.
	BackgroundRelease release_{config_.release_in_background};
	Reconciler reconciler_;
	std::map<SessionKey, Session> sessions_;
	std::map<SessionKey, Session> held_;
	AuditLog audit_;
	MacTable macs_;
	RouteTable routes_;
	IncrementalDecision incremental_{macs_, routes_, config_.decision};
	EngineCounters counters_;
	std::array<bool, kGateCount> gates_{};
	bool full_ = true;       // a full pass is due
	bool built_ = false;     // the incremental state has had its first full pass
	// Inputs changed in bulk (resync sweeps) without saying which sessions
	// they touch: the next full pass rebuilds instead of checking.
	bool rebuild_ = false;
	bool retry_due_ = false; // failed entries: retry on this reconcile
	bool flush_due_ = false; // servers a re-read left named by none: removed at a flush
	bool reread_due_ = false; // the audit's step 1 under way (reread_part())
	bool check_due_ = false;  // the audit's steps 2 and 3, for the next reconcile
	bool part_deferred_ = false; // the last pass left the audit's part to this one
	bool audit_whole_ = false;   // audit(): its steps in one reconcile
	// The repair step under way: the check's comparison (while a decided
	// check is pending), then the whole diff; where the next part starts.
	struct RepairProgress {
		bool compared = false;
		std::optional<dp::EntryKey> from;
		std::size_t differences = 0; // of the comparison so far
	};
	std::optional<RepairProgress> repair_;
	bool repair_due_ = false;
	// Step 2's decision, while it is made and until step 3 compares it.
	struct PendingCheck {
		// Null once the decision is made.
		std::unique_ptr<PartialDecision> deciding;
		Desired decided;
		// The inputs' generation at the decision's first part.
		std::uint64_t generation = 0;
		// The incremental state's summary (counters, servers, unsupported
		// collectors; no entries) when the decision was made, compared
		// whole if no input changed between its parts (summary_whole);
		// otherwise its servers are compared but for those in
		// changed_servers, its counters and collectors not at all.
		Desired summary;
		bool summary_whole = true;
		// What the incremental decision changed since the decision's
		// first part: the slots whose claims it replayed (and those of
		// the entries it changed), the servers it retargeted.
		std::set<dp::EntryKey> changed_slots;
		std::set<dp::ServerKey> changed_servers;
	};
	std::optional<PendingCheck> pending_check_;
	EntryMap spare_entries_; // keep_spare()
	bool diffed_whole_ = false; // a whole diff since the last re-read ended
	bool fpm_resyncing_ = false;
	struct PendingDelete {
		std::uint32_t vni;
		Mac mac;
		unsigned ticks_left;
		bool bridge; // the bridge's entry on the VXLAN device, not the self entry
	};
	std::vector<PendingDelete> kernel_deletes_;
	// Flood entries of the kernel, each a source until its deletion stands.
	// Two independent reasons to doubt one: the kernel deleted it (it goes
	// when the deferral expires or the resync after zebra's return does not
	// bring it back), or a running kernel dump has not listed it yet (it
	// goes only when that dump completes without it).
	struct FloodState {
		bool deleted = false;
		bool unconfirmed = false;
		std::uint64_t generation = 0; // of the deletion a pending delete stands for
	};
	std::map<DecapSource, FloodState> flood_;
	struct PendingFloodDelete {
		DecapSource source;
		std::uint64_t generation; // stale when the entry was re-added (or deleted again)
		unsigned ticks_left;
	};
	std::vector<PendingFloodDelete> flood_deletes_;
	std::uint64_t flood_generation_ = 0;
	void flood_erase(std::map<DecapSource, FloodState>::iterator it)
	{
		decap_pending_.insert(it->first);
		flood_.erase(it);
	}
	std::set<DecapSource> decap_applied_; // what the dataplane holds
	// A previous run's IPv6 pairs (never ours): removed after the first dump.
	std::set<std::pair<std::uint32_t, IpAddr>> decap_foreign_;
	// The pairs to check on the next sync (their flood entry came or went),
	// and those whose add or removal failed (checked again on the tick).
	std::set<DecapSource> decap_pending_;
	std::set<DecapSource> decap_failed_;
	bool decap_read_ = false;  // decap_applied_ read from the dataplane
	bool kernel_dumped_ = false; // a kernel FDB dump completed: removals are safe
	bool decap_full_ = true;     // walk every flood entry and applied pair
	bool decap_dirty_ = true;
	std::uint64_t audit_events_before_ = 0;
};

} // namespace evpnmon::consumer
