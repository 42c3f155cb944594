#include "core/model.hpp"

#include <arpa/inet.h>

#include <cstdio>

namespace evpnmon::consumer {

const char *to_string(ImportState state)
{
	switch (state) {
	case ImportState::Installed:
		return "installed";
	case ImportState::Denied:
		return "denied";
	case ImportState::OverLimit:
		return "over-limit";
	}
	return "installed";
}

std::string format_mac(const Mac &mac)
{
	char buf[18];
	std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		      mac[3], mac[4], mac[5]);
	return buf;
}

std::string format_ipv4(const Ipv4 &ip)
{
	char buf[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, ip.data(), buf, sizeof(buf));
	return buf;
}

std::string format_ip(const IpAddr &ip)
{
	char buf[INET6_ADDRSTRLEN];
	if (ip.family == IpAddr::Family::V4)
		inet_ntop(AF_INET, ip.bytes.data(), buf, sizeof(buf));
	else
		inet_ntop(AF_INET6, ip.bytes.data(), buf, sizeof(buf));
	return buf;
}

std::optional<Mac> parse_mac_text(const std::string &text)
{
	Mac mac{};
	unsigned v[6];
	char tail;
	if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
			&v[5], &tail) != 6)
		return std::nullopt;
	for (int i = 0; i < 6; ++i)
		mac[i] = static_cast<std::uint8_t>(v[i]);
	return mac;
}

std::optional<Ipv4> parse_ipv4_text(const std::string &text)
{
	Ipv4 ip{};
	if (inet_pton(AF_INET, text.c_str(), ip.data()) != 1)
		return std::nullopt;
	return ip;
}

std::string to_string(const MacLocation &loc)
{
	const std::string kept = loc.kept ? " (kept)" : "";
	switch (loc.kind) {
	case MacLocation::Kind::Local:
		return "local:" + std::to_string(loc.ifindex) + kept;
	case MacLocation::Kind::Remote:
		return "remote:" + format_ipv4(loc.vtep) + kept;
	case MacLocation::Kind::Unknown:
		break;
	}
	return "unknown";
}

} // namespace evpnmon::consumer
