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

// digits[.digits][k|m|g] with the suffix's factor from `factors`, the
// grammar of the consumer's --mirror-ceiling / --mirror-ceiling-burst: an
// exact integer (a fraction must make whole units), nothing that wraps.
inline std::uint64_t parse_scaled(std::string_view s, const std::uint64_t (&factors)[3],
				  const char *what)
{
	const auto bad = [&]() {
		return std::invalid_argument(std::string(what) + ": not a number with an "
							       "optional k/m/g suffix: '" +
					     std::string(s) + "'");
	};
	std::size_t i = 0, digits = 0;
	std::uint64_t whole = 0, frac = 0, frac_scale = 1;
	for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
		if (whole > (UINT64_MAX - 9) / 10)
			throw bad();
		whole = whole * 10 + static_cast<std::uint64_t>(s[i] - '0');
	}
	if (i < s.size() && s[i] == '.') {
		for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
			if (frac_scale >= 1'000'000'000)
				throw bad();
			frac = frac * 10 + static_cast<std::uint64_t>(s[i] - '0');
			frac_scale *= 10;
		}
	}
	if (!digits)
		throw bad();
	std::uint64_t factor = 1;
	if (i < s.size()) {
		const char c = static_cast<char>(s[i] | 0x20);
		if (c == 'k')
			factor = factors[0];
		else if (c == 'm')
			factor = factors[1];
		else if (c == 'g')
			factor = factors[2];
		else
			throw bad();
		++i;
	}
	if (i != s.size() || whole > UINT64_MAX / factor)
		throw bad();
	// frac < frac_scale <= 10^9, factor <= 10^9: the product fits.
	if (frac * factor % frac_scale)
		throw std::invalid_argument(std::string(what) + ": not a whole number: '" +
					    std::string(s) + "'");
	const std::uint64_t integral = whole * factor, fraction = frac * factor / frac_scale;
	if (fraction > UINT64_MAX - integral)
		throw bad();
	return integral + fraction;
}

// --mirror-ceiling: bits per second, k/m/g = 10^3/10^6/10^9; "off" or 0 =
// no ceiling; at most 10^18.
inline std::uint64_t parse_rate(std::string_view s)
{
	if (s == "off")
		return 0;
	static constexpr std::uint64_t kDecimal[3] = {1'000, 1'000'000, 1'000'000'000};
	const std::uint64_t v = parse_scaled(s, kDecimal, "--mirror-ceiling");
	if (v > 1'000'000'000'000'000'000ull)
		throw std::invalid_argument("--mirror-ceiling: at most 10^18 bits/s, got '" +
					    std::string(s) + "'");
	return v;
}

// --mirror-ceiling-burst: octets, k/m/g = 2^10/2^20/2^30; 0 = the default;
// at most kMaxMirrorCeilingBurst.
inline std::uint64_t parse_burst(std::string_view s)
{
	static constexpr std::uint64_t kBinary[3] = {1ull << 10, 1ull << 20, 1ull << 30};
	const std::uint64_t v = parse_scaled(s, kBinary, "--mirror-ceiling-burst");
	if (v > kMaxMirrorCeilingBurst)
		throw std::invalid_argument("--mirror-ceiling-burst: at most " +
					    std::to_string(kMaxMirrorCeilingBurst) +
					    " octets, got '" + std::string(s) + "'");
	return v;
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
