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
#pragma once

#include "core/model.hpp"

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
	};
	static MacLocation resolve(const Entry &entry);
	static bool empty(const Entry &entry);

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
	std::uint64_t clock_ = 0;
};

} // namespace evpnmon::consumer
