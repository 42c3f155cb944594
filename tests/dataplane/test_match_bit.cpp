// The hash of dp_match_bits (dataplane/bpf/evpnmon_shared.h), compiled on
// the host: the programs skip the lookup of a key whose bit is clear, so
// a key that shares its bit with an installed one costs a lookup for
// nothing. Keys of real deployments differ in few octets (consecutive
// MACs, addresses of one subnet, the last octets of IPv6 addresses, one
// host in many VNIs, entries 1 and 2 of one host): each such family must
// spread over the bits like random keys. The entry store's counts per bit
// (MatchBits) are checked here on plain memory; that the programs and the
// pinned map agree is tested in test_linux ("dp_match_bits").
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "evpnmon_shared.h"
#include "match_bits.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <set>
#include <span>
#include <stdexcept>
#include <vector>

namespace {

dp_match_key key(dp_u32 vni, dp_u8 kind, dp_u8 mtype, const std::vector<dp_u8> &addr)
{
	dp_match_key k{};
	k.vni = vni;
	k.kind = kind;
	k.mtype = mtype;
	std::memcpy(k.addr, addr.data(), addr.size());
	return k;
}

// Distinct bits of n keys in 2^18 bits. Random keys: n - n^2 / 2^19 on
// average, 98.1 % of 10,000; 97 % is about 11 standard deviations below.
std::size_t distinct(std::uint32_t n, const std::function<dp_match_key(std::uint32_t)> &make)
{
	std::set<dp_u32> bits;
	for (std::uint32_t i = 0; i < n; ++i) {
		const dp_match_key k = make(i);
		bits.insert(dp_match_bit(&k, (1u << 18) - 1));
	}
	return bits.size();
}

constexpr std::uint32_t kN = 10000;
constexpr std::size_t kMin = kN * 97 / 100;

} // namespace

TEST_CASE("consecutive MACs, IPv4 and IPv6 addresses spread like random keys")
{
	CHECK(distinct(kN, [](std::uint32_t i) {
		return key(100, DP_KIND_SRC, DP_MATCH_MAC,
			   {0x02, 0, 0, 0, dp_u8(i >> 8), dp_u8(i)});
	}) >= kMin);
	CHECK(distinct(kN, [](std::uint32_t i) {
		return key(100, DP_KIND_DST, DP_MATCH_V4, {10, 0, dp_u8(i >> 8), dp_u8(i)});
	}) >= kMin);
	// fd00::<i>: only the last two octets differ.
	CHECK(distinct(kN, [](std::uint32_t i) {
		std::vector<dp_u8> a(16);
		a[0] = 0xfd;
		a[14] = dp_u8(i >> 8);
		a[15] = dp_u8(i);
		return key(100, DP_KIND_SRC, DP_MATCH_V6, a);
	}) >= kMin);
	// The upper half of an IPv6 address (the /64 of each host).
	CHECK(distinct(kN, [](std::uint32_t i) {
		std::vector<dp_u8> a(16);
		a[0] = 0xfd;
		a[6] = dp_u8(i >> 8);
		a[7] = dp_u8(i);
		a[15] = 1;
		return key(100, DP_KIND_SRC, DP_MATCH_V6, a);
	}) >= kMin);
}

TEST_CASE("one host in many VNIs, and its entries 1 and 2, have their own bits")
{
	CHECK(distinct(kN, [](std::uint32_t i) {
		return key(i + 1, DP_KIND_SRC, DP_MATCH_MAC, {0x02, 0, 0, 0, 0, 1});
	}) >= kMin);
	CHECK(distinct(kN, [](std::uint32_t i) {
		return key(100, i & 1 ? DP_KIND_DST : DP_KIND_SRC, DP_MATCH_MAC,
			   {0x02, 0, 0, 0, dp_u8(i >> 9), dp_u8(i >> 1)});
	}) >= kMin);
	// The same four octets as a MAC prefix and as an IPv4 address.
	CHECK(distinct(kN, [](std::uint32_t i) {
		return key(100, DP_KIND_SRC, i & 1 ? DP_MATCH_V4 : DP_MATCH_MAC,
			   {10, 0, dp_u8(i >> 9), dp_u8(i >> 1)});
	}) >= kMin);
}

TEST_CASE("every mask keeps the spread: small maps use the low bits")
{
	// 4,096 bits (the smallest map) and 100,000 consecutive MACs: about
	// 24.4 keys per bit; the fullest bit of random keys has about 45.
	std::vector<std::uint32_t> per_bit(4096);
	for (std::uint32_t i = 0; i < 100000; ++i) {
		const dp_match_key k = key(100, DP_KIND_DST, DP_MATCH_MAC,
					   {0x02, 0, 0, dp_u8(i >> 16), dp_u8(i >> 8), dp_u8(i)});
		per_bit[dp_match_bit(&k, 4095)]++;
	}
	std::uint32_t most = 0, empty = 0;
	for (auto n : per_bit) {
		most = std::max(most, n);
		empty += n == 0;
	}
	CHECK(most <= 60);
	CHECK(empty == 0);
}

namespace {

bool bit_set(const std::vector<std::uint64_t> &words, const dp_match_key &k)
{
	const dp_u32 b = dp_match_bit(&k, static_cast<dp_u32>(words.size() * 64 - 1));
	return (words[b >> 6] >> (b & 63)) & 1;
}

std::size_t bits_set(const std::vector<std::uint64_t> &words)
{
	std::size_t n = 0;
	for (auto w : words)
		n += static_cast<std::size_t>(__builtin_popcountll(w));
	return n;
}

} // namespace

TEST_CASE("MatchBits: a bit is set while any of its keys is counted, 300 on one bit included")
{
	using evpnmon::dp::linux_dp::MatchBits;
	std::vector<std::uint64_t> words(64); // 4,096 bits
	std::span<volatile std::uint64_t> span(words.data(), words.size());
	// 300 keys of one bit (more than an octet counts), found by trying.
	const dp_match_key first = key(100, DP_KIND_SRC, DP_MATCH_MAC, {0x02, 0, 0, 0, 0, 0});
	const dp_u32 target = dp_match_bit(&first, 4095);
	std::vector<dp_match_key> same;
	for (std::uint32_t i = 0; same.size() < 300; ++i) {
		const dp_match_key k = key(100, DP_KIND_SRC, DP_MATCH_MAC,
					   {0x02, 0, dp_u8(i >> 16), dp_u8(i >> 8), dp_u8(i), 0});
		if (dp_match_bit(&k, 4095) == target)
			same.push_back(k);
	}
	MatchBits bits(span);
	for (const auto &k : same)
		bits.add(k);
	CHECK(bit_set(words, first));
	CHECK(bits_set(words) == 1);
	for (std::size_t i = 0; i + 1 < same.size(); ++i) {
		bits.remove(same[i]);
		REQUIRE_MESSAGE(bit_set(words, first), "cleared with keys left: ", i + 1, " removed");
	}
	bits.remove(same.back());
	CHECK(bits_set(words) == 0);
	// Removing a key whose count is already zero changes nothing.
	bits.remove(first);
	CHECK(bits_set(words) == 0);

	// rewrite(): the counted keys' bits, and no other.
	words[7] = ~std::uint64_t{0};
	bits.add(same[0]);
	bits.rewrite();
	CHECK(bits_set(words) == 1);
	CHECK(bit_set(words, first));
	bits.remove(same[0]);
	bits.rewrite();
	CHECK(bits_set(words) == 0);
	CHECK_THROWS_AS(MatchBits(std::span<volatile std::uint64_t>(words.data(), 48)),
			std::invalid_argument);
}
