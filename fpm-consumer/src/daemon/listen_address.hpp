// ADDR:PORT of a listening TCP socket (the metrics endpoint): numeric IPv4
// "127.0.0.1:9417" or IPv6 "[::1]:9417". Pure.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace evpnmon::consumer {

struct ListenAddress {
	bool v6 = false;
	std::array<std::uint8_t, 16> addr{}; // network order; IPv4 in addr[0..3]
	std::uint16_t port = 0;              // 0: ephemeral (tests)

	// 127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104
	bool loopback() const;
	std::string to_string() const; // "127.0.0.1:9417", "[::1]:9417"
};

// nullopt when `text` is not ADDR:PORT with a numeric address and a port
// 0..65535.
std::optional<ListenAddress> parse_listen_address(std::string_view text);

} // namespace evpnmon::consumer
