// Header fields of an Ethernet frame that entries 1/2 match on.
#pragma once

#include <evpnmon/dataplane/types.hpp>

#include <cstdint>
#include <optional>
#include <span>

namespace evpnmon::dp {

struct FrameHeaders {
	Mac dst{};
	Mac src{};
	std::optional<IpAddr> src_ip; // IPv4/IPv6 only (after at most one VLAN tag)
	std::optional<IpAddr> dst_ip;
};

// nullopt if the frame is shorter than an Ethernet header.
std::optional<FrameHeaders> parse_frame(std::span<const std::uint8_t> frame);

} // namespace evpnmon::dp
