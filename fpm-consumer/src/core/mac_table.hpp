// fpm-consumer core: MAC -> location, fused from several sources.
//
// Each source (the dataplane's local learning, zebra's FPM stream, the kernel
// bridge FDB of the VXLAN devices) keeps its own record per (VNI, MAC). The
// location of a MAC is the most recently updated record among the sources
// that have one: a host that moves produces a fresh record at the new place
// before the old one is withdrawn, so the newest record is the truth during
// the move and the only record after convergence.
//
// The bridge's own (master) FDB entry, seen in the kernel FDB, is the
// authority on where the bridge forwards a MAC, so it filters the records:
//  - bridge entry on the VXLAN device: the MAC is remote, and a local record
//    (a MAC learning that has moved to the fabric since) is ignored;
//  - otherwise (on a local port, or none) a kernel-FDB remote record (a
//    VXLAN-device `self` entry with a dst) is ignored: zebra installs every
//    remote MAC into the bridge and the VXLAN device together, and FRR
//    8.4.4's zebra leaves the old `self` entry behind when a MAC moves onto
//    this leaf. Without bridge facts (see the constructor) only a bridge
//    entry on a local port rules it out.
//
// A record that did not count while the live location stood (older than it,
// or ruled out by the bridge's entry) and names another place is a
// **leftover** once that location goes away: it is marked superseded and no
// longer counts, until its source reports that location again as news (a new FPM
// install, a new local learning, a bridge entry that newly points at the
// VXLAN device). Example: a server moves onto this leaf, where zebra keeps
// neither its old remote MAC nor sends an FPM removal, and leaves the old
// `self` entry in the VXLAN device's FDB; when the server then ages out
// here, those records must not bring back the VTEP it left, while every
// other leaf keeps this leaf as its last location. Which source wins, and
// why, is rule L in docs/exactly-once.md.
//
// Monitoring servers' MACs are pinned (Engine: one pin per session naming
// the server). When every record of a pinned MAC is gone (aged out locally,
// withdrawn remotely), its last location is **kept** (MacLocation::kept)
// until a record names a location again, or the last session of the server
// goes away (unpin), or, for a local port, the port no longer exists
// (drop_kept_local). A capture server only receives, so the bridge never
// refreshes its MAC; without this, its ageing would stop mirroring to it.
#pragma once

#include "core/model.hpp"

#include <functional>

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <optional>
#include <utility>
#include <vector>

namespace evpnmon::consumer {

enum class MacSource : std::uint8_t { Local = 0, Fpm = 1, Kernel = 2 };
inline constexpr std::size_t kMacSourceCount = 3;
const char *to_string(MacSource source);

class MacTable {
public:
	using Key = std::pair<std::uint32_t, Mac>; // (VNI, MAC)

	// `bridge_known`: the bridges' own FDB entries are fed in (set_bridge).
	// zebra installs every remote MAC into both the bridge (on the VXLAN
	// device) and the VXLAN device's FDB (`self`), so a `self` entry counts
	// only while the bridge's entry is on the VXLAN device; alone it is a
	// leftover. Without bridge facts, every record counts.
	explicit MacTable(bool bridge_known = false) : bridge_known_(bridge_known) {}

	// Returns true when the resolved location of the MAC changed.
	bool set(MacSource source, std::uint32_t vni, const Mac &mac, const MacLocation &loc);
	bool erase(MacSource source, std::uint32_t vni, const Mac &mac);

	// The bridge's master FDB entry for the MAC: on a local port
	// (`local_port`), or on the VXLAN device (nullopt). Kernel-FDB facts:
	// marked stale and swept with MacSource::Kernel.
	bool set_bridge(std::uint32_t vni, const Mac &mac, std::optional<std::uint32_t> local_port);
	// The bridge entry is gone. `ifindex`: the device it was on (a stale
	// deletion for another device is ignored).
	bool erase_bridge(std::uint32_t vni, const Mac &mac, std::uint32_t ifindex,
			  bool on_vxlan_device);

	MacLocation locate(std::uint32_t vni, const Mac &mac) const;

	// Resync support: mark every record of a source stale; records refreshed
	// by set() lose the mark; sweep_stale() erases what is still stale.
	void mark_stale(MacSource source);
	// Mark one record stale (a deletion that is deferred until a resync).
	void mark_stale(MacSource source, std::uint32_t vni, const Mac &mac);
	std::size_t sweep_stale(MacSource source);
	bool is_stale(MacSource source, std::uint32_t vni, const Mac &mac) const;
	// The same for the bridge's entry on the VXLAN device (a deferred
	// deletion; set_bridge() clears the mark).
	void mark_bridge_stale(std::uint32_t vni, const Mac &mac);
	bool is_bridge_stale(std::uint32_t vni, const Mac &mac) const;
	std::size_t count(MacSource source) const;

	// Pinning (monitoring servers' MACs); reference-counted.
	void pin(std::uint32_t vni, const Mac &mac);
	// Returns true when the resolved location changed (a kept one dropped).
	bool unpin(std::uint32_t vni, const Mac &mac);
	bool pinned(std::uint32_t vni, const Mac &mac) const;
	// Drops kept local locations whose port does not exist any more.
	// Returns their MACs. Visits the kept MACs only.
	std::vector<Key> drop_kept_local(const std::function<bool(std::uint32_t ifindex)> &port_exists);
	std::size_t kept_count() const { return kept_.size(); }
	// Wall clock for MacLocation::kept_since (tests set a fixed one).
	void set_wall_clock(std::function<std::int64_t()> clock) { wall_clock_ = std::move(clock); }
	std::size_t size() const { return table_.size(); }

	template <typename F> void for_each(F &&fn) const
	{
		for (const auto &[key, entry] : table_)
			fn(key.first, key.second, resolve(entry));
	}

private:
	struct Record {
		MacLocation loc;
		std::uint64_t stamp = 0;
		bool stale = false;
		bool superseded = false; // a leftover (see above): does not count
	};
	struct Bridge {
		enum class Where : std::uint8_t { None, Port, Vxlan };
		Where where = Where::None;
		std::uint32_t ifindex = 0; // Port
		bool stale = false;
	};
	struct Entry {
		std::array<std::optional<Record>, kMacSourceCount> by_source;
		Bridge bridge;
		std::optional<MacLocation> kept; // last location of a pinned MAC
	};
	bool ruled_out(const Bridge &bridge, MacSource source, const MacLocation &loc) const;
	const Record *live_record(const Entry &entry) const;
	MacLocation live(const Entry &entry) const;
	// Removes one record; if it was the live location, the other records
	// that name another place become leftovers.
	void drop_record(Entry &entry, MacSource source) const;
	// The bridge's entry is gone; what it ruled out becomes leftovers.
	void forget_bridge(Entry &entry) const;
	MacLocation resolve(const Entry &entry) const;
	static bool empty(const Entry &entry);
	// After a change of the records: keep or forget the last location.
	void settle(const Key &key, Entry &entry, const MacLocation &live_before);

	struct KeyHash {
		std::size_t operator()(const Key &k) const noexcept
		{
			std::uint64_t v = k.first;
			for (auto b : k.second)
				v = (v << 8) ^ b ^ (v >> 56);
			return static_cast<std::size_t>(v * 0x9E3779B97F4A7C15ull);
		}
	};
	std::unordered_map<Key, Entry, KeyHash> table_;
	std::unordered_map<Key, unsigned, KeyHash> pins_;
	bool bridge_known_ = false;
	std::unordered_set<Key, KeyHash> kept_; // the MACs with a kept location
	std::uint64_t clock_ = 0;
	std::function<std::int64_t()> wall_clock_;
};

} // namespace evpnmon::consumer
