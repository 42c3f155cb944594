// The entry store's side of dp_match_bits (evpnmon_shared.h): every key
// with an element in dp_match has its bit set, so the mirror and egress
// programs may skip the hash lookup of a key whose bit is clear. A count
// of keys per bit: a bit is set before the first of its keys gets an
// element, and cleared only after the last one's element is deleted, so a
// program never skips a lookup that could hit.
//
// The counts are one octet per bit, in zeroed memory the kernel maps only
// where keys fall (calloc of a large block), with the rare count above 255
// kept aside: a direct index per key, no node per key. This process is the
// maps' only writer (flock on the pin directory) and one thread writes, so
// a word is read, changed and stored, without a locked instruction; the
// system call that then writes the key's dp_match element orders the
// store before the element (its update is a release in the kernel).
#pragma once

#include "evpnmon_shared.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <unordered_map>

namespace evpnmon::dp::linux_dp {

class MatchBits {
public:
	// words: the mapped map, a power of two of them. Throws
	// std::invalid_argument otherwise, std::bad_alloc.
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
	struct Free {
		void operator()(std::uint8_t *p) const { std::free(p); }
	};
	void set(dp_u32 bit, bool on);

	std::span<volatile std::uint64_t> words_;
	dp_u32 mask_;
	std::unique_ptr<std::uint8_t[], Free> refs_; // keys per bit, up to 255
	std::unordered_map<dp_u32, std::uint32_t> more_; // bit -> keys beyond 255
};

} // namespace evpnmon::dp::linux_dp
