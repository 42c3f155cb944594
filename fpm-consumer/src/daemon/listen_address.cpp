#include "daemon/listen_address.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace evpnmon::consumer {

bool ListenAddress::loopback() const
{
	if (!v6)
		return addr[0] == 127;
	static constexpr std::array<std::uint8_t, 16> one{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	if (addr == one)
		return true;
	for (int i = 0; i < 10; ++i)
		if (addr[static_cast<std::size_t>(i)] != 0)
			return false;
	return addr[10] == 0xff && addr[11] == 0xff && addr[12] == 127; // v4-mapped
}

std::string ListenAddress::to_string() const
{
	char buf[INET6_ADDRSTRLEN] = "";
	inet_ntop(v6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof(buf));
	return (v6 ? "[" + std::string(buf) + "]" : std::string(buf)) + ":" + std::to_string(port);
}

std::optional<ListenAddress> parse_listen_address(std::string_view text)
{
	const auto colon = text.rfind(':');
	if (colon == std::string_view::npos || colon + 1 >= text.size())
		return std::nullopt;
	std::string_view host = text.substr(0, colon);
	const std::string_view port = text.substr(colon + 1);
	ListenAddress a;
	unsigned value = 0;
	const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
	if (ec != std::errc() || p != port.data() + port.size() || value > 65535)
		return std::nullopt;
	a.port = static_cast<std::uint16_t>(value);
	if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
		a.v6 = true;
		host = host.substr(1, host.size() - 2);
	} else if (host.find(':') != std::string_view::npos) {
		return std::nullopt; // IPv6 without brackets: ambiguous
	}
	const std::string h(host);
	if (inet_pton(a.v6 ? AF_INET6 : AF_INET, h.c_str(), a.addr.data()) != 1)
		return std::nullopt;
	return a;
}

} // namespace evpnmon::consumer
