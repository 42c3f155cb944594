// The decapsulation-source table's contract, run on both backends
// (test_memory.cpp, test_linux.cpp): idempotent add/remove, sorted list,
// invalid pairs refused without a trace, and a full table is a capacity
// error that leaves the table as it was.
#pragma once

#include <evpnmon/dataplane/dataplane.hpp>

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

namespace evpnmon::dp::table {

using SourceList = std::vector<std::pair<std::uint32_t, IpAddr>>;

inline std::pair<std::uint32_t, IpAddr> source(std::uint32_t vni, const std::string &ip)
{
	return {vni, *parse_ip(ip)};
}

inline void check_decap_source_table(Dataplane &dp)
{
	for (const auto &[vni, ip] : dp.decap_sources())
		REQUIRE_FALSE(dp.remove_decap_source(vni, ip));
	CHECK(dp.decap_sources().empty());

	const auto a = source(100, "10.9.9.5"), b = source(200, "10.9.9.5"),
		   c = source(100, "10.9.9.6");
	CHECK_FALSE(dp.add_decap_source(a.first, a.second));
	CHECK_FALSE(dp.add_decap_source(a.first, a.second)); // present: not an error
	CHECK(dp.decap_sources() == SourceList{a});
	CHECK_FALSE(dp.add_decap_source(b.first, b.second));
	CHECK_FALSE(dp.add_decap_source(c.first, c.second));
	CHECK(dp.decap_sources() == SourceList{a, c, b}); // (VNI, address) order
	const auto absent = source(300, "10.9.9.9");
	CHECK_FALSE(dp.remove_decap_source(absent.first, absent.second));
	CHECK_FALSE(dp.remove_decap_source(a.first, a.second));
	CHECK_FALSE(dp.remove_decap_source(a.first, a.second)); // absent: not an error
	CHECK(dp.decap_sources() == SourceList{c, b});

	// Not a (VNI, IPv4 VTEP): refused, nothing written or removed.
	const std::vector<std::pair<std::uint32_t, IpAddr>> bad = {
	    source(0, "10.9.9.5"), source(1u << 24, "10.9.9.5"),
	    source(100, "fd00::5"), source(100, "0.0.0.0")};
	for (const auto &[vni, ip] : bad) {
		INFO("vni " << vni << " vtep " << to_string(ip));
		CHECK(dp.add_decap_source(vni, ip) == std::errc::invalid_argument);
		CHECK(dp.remove_decap_source(vni, ip) == std::errc::invalid_argument);
	}
	CHECK(dp.decap_sources() == SourceList{c, b});
	CHECK_FALSE(dp.remove_decap_source(b.first, b.second));
	CHECK_FALSE(dp.remove_decap_source(c.first, c.second));
	CHECK(dp.decap_sources().empty());
}

// Fills the table to `capacity` pairs: one more is a capacity error, a
// present one is still accepted, and after one removal the new one fits.
inline void check_decap_source_capacity(Dataplane &dp, std::uint32_t capacity)
{
	auto nth = [](std::uint32_t i) {
		IpAddr ip;
		ip.bytes[0] = 10;
		ip.bytes[1] = static_cast<std::uint8_t>(i >> 16);
		ip.bytes[2] = static_cast<std::uint8_t>(i >> 8);
		ip.bytes[3] = static_cast<std::uint8_t>(i);
		return std::make_pair(100 + i % 7, ip);
	};
	for (std::uint32_t i = 0; i < capacity; ++i) {
		const auto [vni, ip] = nth(i);
		REQUIRE_FALSE(dp.add_decap_source(vni, ip));
	}
	CHECK(dp.decap_sources().size() == capacity);
	const auto [vni, ip] = nth(capacity);
	const auto ec = dp.add_decap_source(vni, ip);
	CHECK(is_capacity_error(ec));
	CHECK(dp.decap_sources().size() == capacity);
	const auto first = nth(0);
	CHECK_FALSE(dp.add_decap_source(first.first, first.second));
	CHECK_FALSE(dp.remove_decap_source(first.first, first.second));
	CHECK_FALSE(dp.add_decap_source(vni, ip));
	for (const auto &[v, a] : dp.decap_sources())
		REQUIRE_FALSE(dp.remove_decap_source(v, a));
}

} // namespace evpnmon::dp::table
