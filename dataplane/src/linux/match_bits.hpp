// The entry store's side of dp_match_bits (evpnmon_shared.h): every key
// with an element in dp_match has its bit set, so the mirror and egress
// programs may skip the hash lookup of a key whose bit is clear. A count
// of keys per bit: a bit is set before the first of its keys gets an
// element, and cleared only after the last one's element is deleted, so a
// program never skips a lookup that could hit.
#pragma once

#include "evpnmon_shared.h"

#include <cstdint>
#include <span>
#include <unordered_map>

namespace evpnmon::dp::linux_dp {

class MatchBits {
public:
	// words: the mapped map, a power of two of them. Throws
	// std::invalid_argument otherwise.
	explicit MatchBits(std::span<volatile std::uint64_t> words);

	// Before the key's element is first written to dp_match.
	void add(const dp_match_key &key);
	// After the key's element is deleted from dp_match.
	void remove(const dp_match_key &key);
	// Writes every word from the counted keys: after a restart counted the
	// adopted keys and deleted the elements of the others, the bits that
	// only those others had are cleared.
	void rewrite();

private:
	dp_u32 bit(const dp_match_key &key) const { return dp_match_bit(&key, mask_); }

	std::span<volatile std::uint64_t> words_;
	dp_u32 mask_;
	std::unordered_map<dp_u32, std::uint32_t> refs_; // bit -> keys
};

} // namespace evpnmon::dp::linux_dp
