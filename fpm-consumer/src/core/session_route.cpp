#include "core/session_route.hpp"

#include <cstring>

namespace evpnmon::consumer {

namespace {

void put_ip(evpn_mon_ip &out, const IpAddr &ip)
{
	out.len = ip.family == IpAddr::Family::V4 ? 4 : 16;
	std::memcpy(out.addr, ip.bytes.data(), out.len);
}

} // namespace

evpn_mon_route to_route(const SessionKey &key)
{
	evpn_mon_route r{};
	r.eth_tag = key.eth_tag;
	r.vni = key.vni;
	r.host_id = key.host_id;
	r.dest = key.collector ? EVPN_MON_DEST_COLLECTOR : EVPN_MON_DEST_SERVER;
	if (key.host_mac) {
		r.host_mac_len = 6;
		std::memcpy(r.host_mac, key.host_mac->data(), 6);
	}
	if (key.host_ip)
		put_ip(r.host_ip, *key.host_ip);
	std::memcpy(r.orig_ip, key.originator.data(), 4);
	return r;
}

evpn_mon_route to_route(const Session &s)
{
	evpn_mon_route r = to_route(s.key);
	std::memcpy(r.server_mac, s.server_mac.data(), 6);
	if (s.server_ip)
		put_ip(r.server_ip, *s.server_ip);
	if (s.options.has_profile() || s.options.has_erspan())
		r.opts = s.options.c();
	return r;
}

std::string validation_error(const Session &s)
{
	const evpn_mon_route r = to_route(s);
	if (const auto err = evpn_mon_validate(&r, false); err != EVPN_MON_OK)
		return evpn_mon_strerror(err);
	if (const auto err = s.options.validate(); err != EVPN_MON_OPT_OK)
		return std::string("options: ") + evpn_mon_opt_strerror(err);
	return {};
}

std::string make_session_id(const SessionKey &key)
{
	const evpn_mon_route r = to_route(key);
	char buf[EVPN_MON_SESSION_ID_MAX];
	const std::size_t n = evpn_mon_session_id(&r, buf, sizeof(buf));
	return std::string(buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
}

} // namespace evpnmon::consumer
