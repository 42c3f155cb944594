#include <evpnmon/dataplane/dataplane.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>
#include <stdexcept>

namespace evpnmon::dp {

std::uint64_t mirror_ceiling_burst_octets(const Config &config)
{
	if (config.mirror_ceiling_burst)
		return config.mirror_ceiling_burst;
	return std::clamp<std::uint64_t>(config.mirror_ceiling_bps / 8 / 100,
					 kMirrorCeilingBurstFloor, kMaxMirrorCeilingBurst);
}

std::uint64_t mirror_ceiling_packet_burst(const Config &config)
{
	if (config.mirror_ceiling_packet_burst)
		return config.mirror_ceiling_packet_burst;
	return std::clamp<std::uint64_t>(config.mirror_ceiling_pps / 100,
					 kMirrorCeilingPacketBurstFloor,
					 kMaxMirrorCeilingPacketBurst);
}

void check_mirror_ceiling(const Config &config, const std::string &who)
{
	if (config.mirror_ceiling_burst > kMaxMirrorCeilingBurst)
		throw std::invalid_argument(who + ": mirror_ceiling_burst must be at most " +
					    std::to_string(kMaxMirrorCeilingBurst) + " octets");
	if (config.mirror_ceiling_pps > kMaxMirrorCeilingPps)
		throw std::invalid_argument(who + ": mirror_ceiling_pps must be at most " +
					    std::to_string(kMaxMirrorCeilingPps) + " copies/s");
	if (config.mirror_ceiling_packet_burst > kMaxMirrorCeilingPacketBurst)
		throw std::invalid_argument(who + ": mirror_ceiling_packet_burst must be at most " +
					    std::to_string(kMaxMirrorCeilingPacketBurst) + " copies");
}

namespace {

// digits[.digits][suffix]; the suffix's factor from `factors` (k, m, g).
std::optional<std::uint64_t> parse_scaled(std::string_view text, const std::uint64_t (&factors)[3])
{
	std::size_t i = 0, digits = 0;
	std::uint64_t whole = 0;
	for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
		if (whole > (UINT64_MAX - 9) / 10)
			return std::nullopt;
		whole = whole * 10 + static_cast<std::uint64_t>(text[i] - '0');
	}
	std::uint64_t frac = 0, frac_scale = 1;
	if (i < text.size() && text[i] == '.') {
		for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
			if (frac_scale >= 1'000'000'000)
				return std::nullopt; // more precision than any rate needs
			frac = frac * 10 + static_cast<std::uint64_t>(text[i] - '0');
			frac_scale *= 10;
		}
	}
	if (digits == 0)
		return std::nullopt;
	std::uint64_t factor = 1;
	if (i < text.size()) {
		const char c = static_cast<char>(text[i] | 0x20);
		if (c == 'k')
			factor = factors[0];
		else if (c == 'm')
			factor = factors[1];
		else if (c == 'g')
			factor = factors[2];
		else
			return std::nullopt;
		++i;
	}
	if (i != text.size() || whole > UINT64_MAX / factor)
		return std::nullopt;
	// frac < frac_scale <= 10^9 and factor <= 10^9: the product fits.
	if (frac * factor % frac_scale != 0)
		return std::nullopt; // not a whole number of units
	const std::uint64_t integral = whole * factor, fraction = frac * factor / frac_scale;
	if (fraction > UINT64_MAX - integral)
		return std::nullopt; // the sum would wrap (e.g. 18446744073.709551616g)
	return integral + fraction;
}

} // namespace

std::optional<std::uint64_t> parse_bit_rate(std::string_view text)
{
	if (text == "off")
		return 0;
	static constexpr std::uint64_t kDecimal[3] = {1'000, 1'000'000, 1'000'000'000};
	return parse_scaled(text, kDecimal);
}

std::optional<std::uint64_t> parse_packet_rate(std::string_view text)
{
	// The same grammar as a bit rate: only the unit differs.
	return parse_bit_rate(text);
}

std::optional<std::uint64_t> parse_byte_size(std::string_view text)
{
	static constexpr std::uint64_t kBinary[3] = {1ull << 10, 1ull << 20, 1ull << 30};
	return parse_scaled(text, kBinary);
}

} // namespace evpnmon::dp
