#include "match_bits.hpp"

#include <new>
#include <stdexcept>

namespace evpnmon::dp::linux_dp {

MatchBits::MatchBits(std::span<volatile std::uint64_t> words)
    : words_(words), mask_(static_cast<dp_u32>(words.size() * 64 - 1))
{
	if (words.empty() || (words.size() & (words.size() - 1)) ||
	    words.size() > (std::size_t{1} << 26))
		throw std::invalid_argument("dataplane/linux: dp_match_bits must be a "
					    "power of two of words");
	refs_.reset(static_cast<std::uint8_t *>(std::calloc(words.size() * 64, 1)));
	if (!refs_)
		throw std::bad_alloc();
}

void MatchBits::set(dp_u32 bit, bool on)
{
	volatile std::uint64_t &w = words_[bit >> 6];
	const std::uint64_t m = std::uint64_t{1} << (bit & 63);
	const std::uint64_t old = __atomic_load_n(&w, __ATOMIC_RELAXED);
	__atomic_store_n(&w, on ? old | m : old & ~m, __ATOMIC_RELEASE);
}

void MatchBits::add(const dp_match_key &key)
{
	const dp_u32 b = dp_match_bit(&key, mask_);
	std::uint8_t &n = refs_[b];
	if (n == 255)
		++more_[b];
	else if (n++ == 0)
		set(b, true);
}

void MatchBits::remove(const dp_match_key &key)
{
	const dp_u32 b = dp_match_bit(&key, mask_);
	std::uint8_t &n = refs_[b];
	if (n == 255) {
		if (auto it = more_.find(b); it != more_.end()) {
			if (--it->second == 0)
				more_.erase(it);
			return;
		}
	}
	if (n > 0 && --n == 0)
		set(b, false);
}

void MatchBits::rewrite()
{
	for (std::size_t i = 0; i < words_.size(); ++i) {
		std::uint64_t want = 0;
		for (std::size_t j = 0; j < 64; ++j)
			want |= std::uint64_t{refs_[i * 64 + j] != 0} << j;
		if (__atomic_load_n(&words_[i], __ATOMIC_RELAXED) != want)
			__atomic_store_n(&words_[i], want, __ATOMIC_RELEASE);
	}
}

} // namespace evpnmon::dp::linux_dp
