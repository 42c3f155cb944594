// The hash of dp_match_bits (dataplane/bpf/evpnmon_shared.h), compiled on
// the host: the programs skip the lookup of a key whose bit is clear, so
// a key that shares its bit with an installed one costs a lookup for
// nothing. Keys of real deployments differ in few octets (consecutive
// MACs, addresses of one subnet, the last octets of IPv6 addresses, one
// host in many VNIs, entries 1 and 2 of one host): each such family must
// spread over the bits like random keys. Which bits the kernel side sets
// is tested against the programs in test_linux ("dp_match_bits").
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "evpnmon_shared.h"

#include <cstdint>
#include <cstring>
#include <functional>
#include <set>
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
