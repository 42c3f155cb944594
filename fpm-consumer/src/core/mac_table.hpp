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
//  - bridge entry on a local port: the MAC is local, and a kernel-FDB remote
//    record (a VXLAN-device `self` entry with a dst) is ignored. FRR 8.4.4's
//    zebra leaves the old remote `self` entry behind when a MAC moves onto
//    this leaf; a restarted consumer must not trust it;
//  - bridge entry on the VXLAN device: the MAC is remote, and a local record
//    (a MAC learning that has moved to the fabric since) is ignored;
//  - no bridge entry: every record counts (FPM-only setups, replays).
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
#include <optional>
#include <utility>

namespace evpnmon::consumer {

enum class MacSource : std::uint8_t { Local = 0, Fpm = 1, Kernel = 2 };
inline constexpr std::size_t kMacSourceCount = 3;
const char *to_string(MacSource source);

class MacTable {
public:
	using Key = std::pair<std::uint32_t, Mac>; // (VNI, MAC)

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
	std::size_t count(MacSource source) const;

	// Pinning (monitoring servers' MACs); reference-counted.
	void pin(std::uint32_t vni, const Mac &mac);
	// Returns true when the resolved location changed (a kept one dropped).
	bool unpin(std::uint32_t vni, const Mac &mac);
	bool pinned(std::uint32_t vni, const Mac &mac) const;
	// Drops kept local locations whose port does not exist any more.
	// Returns how many were dropped.
	std::size_t drop_kept_local(const std::function<bool(std::uint32_t ifindex)> &port_exists);
	std::size_t kept_count() const { return kept_; }
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
	static MacLocation live(const Entry &entry);
	static MacLocation resolve(const Entry &entry);
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
	std::size_t kept_ = 0;
	std::uint64_t clock_ = 0;
	std::function<std::int64_t()> wall_clock_;
};

} // namespace evpnmon::consumer
