// to_string / parse_* for the value types of the dataplane interface.
#include <evpnmon/dataplane/types.hpp>

#include <arpa/inet.h>

#include <cstdio>

namespace evpnmon::dp {

std::string to_string(const Mac &mac)
{
	char buf[18];
	std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
		      mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

std::string to_string(const IpAddr &ip)
{
	char buf[INET6_ADDRSTRLEN] = {};
	const int af = ip.family == IpAddr::Family::V4 ? AF_INET : AF_INET6;
	if (!inet_ntop(af, ip.bytes.data(), buf, sizeof buf))
		return "?";
	return buf;
}

std::string to_string(EntryKind kind)
{
	switch (kind) {
	case EntryKind::MirrorSource:
		return "mirror-source";
	case EntryKind::MirrorDest:
		return "mirror-dest";
	case EntryKind::Decap:
		return "decap";
	}
	return "unknown";
}

std::optional<Mac> parse_mac(const std::string &text)
{
	Mac mac{};
	unsigned v[6];
	char tail;
	if (text.size() != 17)
		return std::nullopt;
	for (std::size_t i = 2; i < 17; i += 3)
		if (text[i] != ':' && text[i] != '-')
			return std::nullopt;
	if (std::sscanf(text.c_str(), "%2x%*c%2x%*c%2x%*c%2x%*c%2x%*c%2x%c", &v[0],
			&v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return std::nullopt;
	for (int i = 0; i < 6; ++i)
		mac[i] = static_cast<std::uint8_t>(v[i]);
	return mac;
}

std::optional<IpAddr> parse_ip(const std::string &text)
{
	IpAddr ip;
	if (inet_pton(AF_INET, text.c_str(), ip.bytes.data()) == 1) {
		ip.family = IpAddr::Family::V4;
		return ip;
	}
	ip.bytes = {};
	if (inet_pton(AF_INET6, text.c_str(), ip.bytes.data()) == 1) {
		ip.family = IpAddr::Family::V6;
		return ip;
	}
	return std::nullopt;
}

} // namespace evpnmon::dp
