// Big-endian reads for the decoders. Callers check the length first.
#pragma once

#include <cstdint>
#include <span>

namespace evpnmon::collector::wire {

inline std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at)
{
	return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

inline std::uint32_t be32(std::span<const std::uint8_t> b, std::size_t at)
{
	return std::uint32_t{b[at]} << 24 | std::uint32_t{b[at + 1]} << 16 |
	       std::uint32_t{b[at + 2]} << 8 | std::uint32_t{b[at + 3]};
}

inline std::uint32_t be24(std::span<const std::uint8_t> b, std::size_t at)
{
	return std::uint32_t{b[at]} << 16 | std::uint32_t{b[at + 1]} << 8 |
	       std::uint32_t{b[at + 2]};
}

} // namespace evpnmon::collector::wire
