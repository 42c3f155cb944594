#include "feed/session_convert.hpp"

#include "monitor_feed.pb.h"

#include <cstring>

namespace evpnmon::consumer {

namespace {
std::optional<IpAddr> ip_from(const std::string &bytes)
{
	IpAddr ip;
	if (bytes.size() == 4)
		ip.family = IpAddr::Family::V4;
	else if (bytes.size() == 16)
		ip.family = IpAddr::Family::V6;
	else
		return std::nullopt;
	std::memcpy(ip.bytes.data(), bytes.data(), bytes.size());
	return ip;
}
std::string ip_bytes(const IpAddr &ip)
{
	const std::size_t n = ip.family == IpAddr::Family::V4 ? 4 : 16;
	return std::string(reinterpret_cast<const char *>(ip.bytes.data()), n);
}
} // namespace

std::variant<Session, std::string> from_proto(const evpnmon::feed::v1::MonitorSession &m)
{
	Session s;
	s.key.vni = m.vni();
	if (s.key.vni == 0 || s.key.vni > 0xFFFFFF)
		return "vni " + std::to_string(m.vni()) + " out of range";
	s.key.eth_tag = m.eth_tag();
	if (!m.host_mac().empty()) {
		if (m.host_mac().size() != 6)
			return "host_mac must be 6 bytes, got " + std::to_string(m.host_mac().size());
		Mac mac;
		std::memcpy(mac.data(), m.host_mac().data(), 6);
		s.key.host_mac = mac;
	}
	if (!m.host_ip().empty()) {
		s.key.host_ip = ip_from(m.host_ip());
		if (!s.key.host_ip)
			return "host_ip must be 4 or 16 bytes";
	}
	if (!s.key.host_mac && !s.key.host_ip)
		return "session has neither host_mac nor host_ip";
	if (m.host_id() == 0 || m.host_id() > 0xFFFF)
		return "host_id " + std::to_string(m.host_id()) + " out of range 1..65535";
	s.key.host_id = static_cast<std::uint16_t>(m.host_id());
	if (m.server_mac().size() != 6)
		return "server_mac must be 6 bytes, got " + std::to_string(m.server_mac().size());
	std::memcpy(s.server_mac.data(), m.server_mac().data(), 6);
	if (!m.server_ip().empty()) {
		s.server_ip = ip_from(m.server_ip());
		if (!s.server_ip)
			return "server_ip must be 4 or 16 bytes";
	}
	s.key.rd = m.rd();
	if (!m.originator().empty()) {
		if (m.originator().size() != 4)
			return "originator must be 4 bytes";
		std::memcpy(s.key.originator.data(), m.originator().data(), 4);
	}
	s.local = m.local();
	return s;
}

void to_proto(const Session &s, evpnmon::feed::v1::MonitorSession &m)
{
	m.set_vni(s.key.vni);
	m.set_eth_tag(s.key.eth_tag);
	if (s.key.host_mac)
		m.set_host_mac(std::string(reinterpret_cast<const char *>(s.key.host_mac->data()), 6));
	if (s.key.host_ip)
		m.set_host_ip(ip_bytes(*s.key.host_ip));
	m.set_host_id(s.key.host_id);
	m.set_server_mac(std::string(reinterpret_cast<const char *>(s.server_mac.data()), 6));
	if (s.server_ip)
		m.set_server_ip(ip_bytes(*s.server_ip));
	m.set_rd(s.key.rd);
	m.set_originator(std::string(reinterpret_cast<const char *>(s.key.originator.data()), 4));
	m.set_local(s.local);
}

} // namespace evpnmon::consumer
