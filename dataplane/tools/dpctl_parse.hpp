// Strict parsers of evpnmon-dpctl's numeric arguments: the whole string or
// std::invalid_argument, never a prefix ("100x" is not VNI 100, "64k" is
// not 64 octets, "nan" is not a rate). Header-only, so that
// tests/dataplane/test_dpctl.cpp checks them without the tool.
#pragma once

#include <evpnmon/dataplane/dataplane.hpp>

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace evpnmon::dp::dpctl {

// A decimal integer min..max, digits only (no sign, space or suffix).
inline std::uint64_t parse_uint(std::string_view s, std::uint64_t min, std::uint64_t max,
				const char *what)
{
	std::uint64_t v = 0;
	const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || v < min || v > max)
		throw std::invalid_argument(std::string(what) + ": expected " + std::to_string(min) +
					    ".." + std::to_string(max) + ", got '" +
					    std::string(s) + "'");
	return v;
}

// --mirror-ceiling: bits per second, k/m/g = 10^3/10^6/10^9; "off" or 0 =
// no ceiling; at most 10^18.
inline std::uint64_t parse_rate(std::string_view s)
{
	const auto parsed = parse_bit_rate(s);
	if (!parsed)
		throw std::invalid_argument("--mirror-ceiling: not a whole number of bits/s with an "
					    "optional k/m/g suffix, or off: '" + std::string(s) + "'");
	const std::uint64_t v = *parsed;
	if (v > 1'000'000'000'000'000'000ull)
		throw std::invalid_argument("--mirror-ceiling: at most 10^18 bits/s, got '" +
					    std::string(s) + "'");
	return v;
}

// --mirror-ceiling-burst: octets, k/m/g = 2^10/2^20/2^30; 0 = the default;
// at most kMaxMirrorCeilingBurst.
inline std::uint64_t parse_burst(std::string_view s)
{
	const auto parsed = parse_byte_size(s);
	if (!parsed)
		throw std::invalid_argument("--mirror-ceiling-burst: not a whole number of octets "
					    "with an optional k/m/g suffix: '" + std::string(s) + "'");
	const std::uint64_t v = *parsed;
	if (v > kMaxMirrorCeilingBurst)
		throw std::invalid_argument("--mirror-ceiling-burst: at most " +
					    std::to_string(kMaxMirrorCeilingBurst) +
					    " octets, got '" + std::string(s) + "'");
	return v;
}

// --mirror-ceiling-packets: copies per second, k/m/g = 10^3/10^6/10^9;
// "off" or 0 = no packet limit; at most kMaxMirrorCeilingPps.
inline std::uint64_t parse_packet_rate_arg(std::string_view s)
{
	const auto parsed = parse_packet_rate(s);
	if (!parsed || *parsed > kMaxMirrorCeilingPps)
		throw std::invalid_argument("--mirror-ceiling-packets: expected 0..10^9 copies/s "
					    "with an optional k/m/g suffix, or off: '" +
					    std::string(s) + "'");
	return *parsed;
}

// --mirror-ceiling-packet-burst: copies; 0 = the default; at most
// kMaxMirrorCeilingPacketBurst.
inline std::uint64_t parse_packet_burst(std::string_view s)
{
	return parse_uint(s, 0, kMaxMirrorCeilingPacketBurst, "--mirror-ceiling-packet-burst");
}

// "VNI/VTEP" of --decap-source: VNI 1..2^24-1, an IPv4 address.
inline std::pair<std::uint32_t, IpAddr> parse_source(std::string_view v)
{
	const auto slash = v.find('/');
	if (slash == std::string_view::npos)
		throw std::invalid_argument("VNI/VTEP expected: '" + std::string(v) + "'");
	const auto vni = static_cast<std::uint32_t>(
	    parse_uint(v.substr(0, slash), 1, 0xffffff, "decap source VNI"));
	const auto ip = parse_ip(std::string(v.substr(slash + 1)));
	if (!ip || ip->family != IpAddr::Family::V4)
		throw std::invalid_argument("decap source VTEP: an IPv4 address expected: '" +
					    std::string(v) + "'");
	return {vni, *ip};
}

} // namespace evpnmon::dp::dpctl
