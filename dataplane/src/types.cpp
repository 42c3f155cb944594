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
	// One set of accepted MAC forms for every component (evpn_mon_options.h).
	Mac mac{};
	if (text.find('\0') != std::string::npos ||
	    !evpn_mon_parse_mac(text.c_str(), mac.data()))
		return std::nullopt;
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
