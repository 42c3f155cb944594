#include "match_bits.hpp"

#include <stdexcept>
#include <vector>

namespace evpnmon::dp::linux_dp {

MatchBits::MatchBits(std::span<volatile std::uint64_t> words)
    : words_(words), mask_(static_cast<dp_u32>(words.size() * 64 - 1))
{
	if (words.empty() || (words.size() & (words.size() - 1)) ||
	    words.size() > (std::size_t{1} << 26))
		throw std::invalid_argument("dataplane/linux: dp_match_bits must be a "
					    "power of two of words");
}

void MatchBits::add(const dp_match_key &key)
{
	const dp_u32 b = bit(key);
	if (refs_[b]++ == 0)
		__atomic_fetch_or(&words_[b >> 6], std::uint64_t{1} << (b & 63),
				  __ATOMIC_SEQ_CST);
}

void MatchBits::remove(const dp_match_key &key)
{
	const dp_u32 b = bit(key);
	auto it = refs_.find(b);
	if (it == refs_.end())
		return;
	if (--it->second == 0) {
		refs_.erase(it);
		__atomic_fetch_and(&words_[b >> 6], ~(std::uint64_t{1} << (b & 63)),
				   __ATOMIC_SEQ_CST);
	}
}

void MatchBits::rewrite()
{
	std::vector<std::uint64_t> want(words_.size());
	for (const auto &[b, _] : refs_)
		want[b >> 6] |= std::uint64_t{1} << (b & 63);
	for (std::size_t i = 0; i < want.size(); ++i)
		if (__atomic_load_n(&words_[i], __ATOMIC_RELAXED) != want[i])
			__atomic_store_n(&words_[i], want[i], __ATOMIC_SEQ_CST);
}

} // namespace evpnmon::dp::linux_dp
