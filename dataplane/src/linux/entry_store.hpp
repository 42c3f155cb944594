// C++ facade over the entry maps of the BPF programs (Katran style):
// dp_match (entries 1/2 grouped by match key), dp_decap (entry 3), dp_meta
// (full entry description, for list()) and dp_stats (per-CPU counters).
// On construction it adopts what the pinned maps hold (a previous run) and
// repairs the lookup maps from dp_meta, so a crash mid-update heals.
#pragma once

#include "../codec.hpp"

#include <evpnmon/dataplane/types.hpp>

#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace evpnmon::dp::linux_dp {

struct MapFds {
	int match, decap, meta, stats, gstats;
	int srv_port; // ifindex -> 1 for every LocalPort action target
};

class EntryStore {
public:
	explicit EntryStore(MapFds fds);

	std::error_code install(const Entry &entry);
	std::error_code remove(const EntryKey &key);
	std::vector<Entry> list() const;
	std::optional<Counters> counters(const EntryKey &key) const;
	Counters global_counters() const;
	std::size_t adopted() const { return adopted_; }
	// true if an installed entry sends copies to this local port (a
	// LocalPort action of entry 1/2, or the port of an entry 3).
	bool targets_port(std::uint32_t ifindex) const;
	// Originals dropped at a server port's egress (already mirrored).
	Counters dropped_originals() const;

private:
	struct Rec {
		Action action;
		dp_u32 idx;
	};
	Counters read_stats(int fd, dp_u32 idx) const;
	std::error_code zero_stats(dp_u32 idx);
	std::error_code write_lookup(const EntryKey &key);
	std::error_code write_meta(const EntryKey &key, const Rec &rec);
	void count_target(const Action &a, int delta);

	MapFds fds_;
	int ncpus_;
	std::map<EntryKey, Rec> recs_;
	std::unordered_map<dp_match_key, std::set<EntryKey>,
			   codec::BytesHash<dp_match_key>, codec::BytesEq<dp_match_key>>
	    by_match_;
	std::map<dp_u32, std::size_t> targets_; // LocalPort ifindex -> entries
	std::vector<dp_u32> free_;
	dp_u32 next_ = 0;
	std::size_t adopted_ = 0;
};

} // namespace evpnmon::dp::linux_dp
