// The entry store's side of dp_vni_word (evpnmon_kinds.h): a direct-mapped
// word per VNI residue that answers the mirror program's first question,
// which kinds of entries 1/2 a VNI has, without a hash lookup.
//
// The first VNI of a residue to get kinds owns its word (VNI and kinds in
// one 32-bit store); any other VNI of that residue is "spilled": its kinds
// are only in dp_vni_kinds, and the word's spill bit tells the program to
// look there. dp_vni_kinds stays complete, and the caller writes it before
// this (a spilled VNI is in the hash before the spill bit says so; a
// removed one is gone from both, in either order, since both then say
// "none"). A VNI keeps its place until its kinds drop to none.
// One thread writes; the system call that then writes dp_match orders the
// store before the element, as for dp_match_bits.
#pragma once

#include "evpnmon_shared.h"

#include <cstdint>
#include <map>
#include <span>
#include <unordered_map>
#include <unordered_set>

namespace evpnmon::dp::linux_dp {

class VniWords {
public:
	// words: the mapped map (DP_VNI_WORDS words); empty: no map, every
	// call only keeps the count. Throws std::invalid_argument for any
	// other size.
	explicit VniWords(std::span<volatile std::uint32_t> words);

	// The VNI's kinds are now `kinds` (0: none), after dp_vni_kinds.
	void set(dp_u32 vni, dp_u32 kinds);
	// After a restart, once dp_vni_kinds holds `kinds`: places every VNI
	// (ascending, so the same words whatever the order of the calls
	// before), then stores each word that differs, once; a word no VNI
	// of `kinds` needs is cleared.
	void rewrite(const std::map<dp_u32, dp_u32> &kinds);

	// The VNIs whose kinds are read from dp_vni_kinds (tests).
	std::size_t spilled() const { return spilled_.size(); }

private:
	struct Slot {
		bool owned = false;
		dp_u32 owner = 0;  // its VNI
		dp_u32 kinds = 0;  // its kinds
		dp_u32 spills = 0; // other VNIs of the residue with kinds
	};
	static dp_u32 word(const Slot &s);
	void store(dp_u32 index, const Slot &s);

	std::span<volatile std::uint32_t> words_;
	std::unordered_map<dp_u32, Slot> slots_; // by residue; only non-empty
	std::unordered_set<dp_u32> spilled_;
};

} // namespace evpnmon::dp::linux_dp
