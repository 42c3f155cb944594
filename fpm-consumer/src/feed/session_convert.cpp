#include "feed/session_convert.hpp"

#include "core/session_route.hpp"
#include "monitor_feed.pb.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace evpnmon::consumer {

namespace {

// A length the route struct records as is; a length it cannot hold is
// kept out of range (the validator reports it, nothing is copied).
std::uint8_t len_of(const std::string &bytes)
{
	return static_cast<std::uint8_t>(std::min<std::size_t>(bytes.size(), 0xff));
}

void put_ip(evpn_mon_ip &out, const std::string &bytes)
{
	out.len = len_of(bytes);
	if (bytes.size() == 4 || bytes.size() == 16)
		std::memcpy(out.addr, bytes.data(), bytes.size());
}

std::optional<IpAddr> ip_of(const evpn_mon_ip &ip)
{
	if (ip.len != 4 && ip.len != 16)
		return std::nullopt;
	IpAddr out;
	out.family = ip.len == 4 ? IpAddr::Family::V4 : IpAddr::Family::V6;
	std::memcpy(out.bytes.data(), ip.addr, ip.len);
	return out;
}

std::string ip_bytes(const IpAddr &ip)
{
	const std::size_t n = ip.family == IpAddr::Family::V4 ? 4 : 16;
	return std::string(reinterpret_cast<const char *>(ip.bytes.data()), n);
}

std::string hex(const std::string &bytes)
{
	std::string out;
	char buf[4];
	for (std::size_t i = 0; i < bytes.size() && i < 20; ++i) {
		std::snprintf(buf, sizeof(buf), "%02x", static_cast<unsigned char>(bytes[i]));
		out += buf;
	}
	if (bytes.size() > 20)
		out += "...";
	return out.empty() ? "-" : out;
}

// The raw fields of a session whose id cannot be formed.
std::string describe(const evpnmon::feed::v1::MonitorSession &m)
{
	return "originator " + hex(m.originator()) + " vni " + std::to_string(m.vni()) +
	       " host-id " + std::to_string(m.host_id()) + " host-mac " + hex(m.host_mac()) +
	       " host-ip " + hex(m.host_ip());
}

// A session id is shown in logs, JSON and metric labels: printable ASCII of
// bounded length, as evpn_mon_session_id() makes it.
bool plausible_id(const std::string &id)
{
	return !id.empty() && id.size() < EVPN_MON_SESSION_ID_MAX &&
	       std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// bgpd's reason text, as logs and JSON can carry it.
std::string printable_reason(const std::string &text)
{
	constexpr std::size_t kMax = 200;
	std::string out;
	for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
		const char c = text[i];
		out += c >= ' ' && c < 0x7f ? c : '?';
	}
	if (text.size() > kMax)
		out += "...";
	return out;
}

} // namespace

std::variant<Session, Rejection> from_proto(const evpnmon::feed::v1::MonitorSession &m,
					    bool withdraw)
{
	// The route the feed fields make (RD aside: the feed carries it as text).
	// A collector session (feed version 3) names its collector in
	// collector_id and leaves host_id 0; the route carries the ID where a
	// server session carries its HOST ID, with the destination kind beside.
	const bool collector = m.collector_id() != 0;
	evpn_mon_route r{};
	r.eth_tag = m.eth_tag();
	r.vni = m.vni();
	r.dest = collector ? EVPN_MON_DEST_COLLECTOR : EVPN_MON_DEST_SERVER;
	r.host_id = collector ? m.collector_id() : m.host_id();
	r.host_mac_len = len_of(m.host_mac());
	if (m.host_mac().size() == 6)
		std::memcpy(r.host_mac, m.host_mac().data(), 6);
	put_ip(r.host_ip, m.host_ip());
	put_ip(r.server_ip, m.server_ip());

	// Lengths the route has no field for are the codec's structural errors.
	auto refuse = [&](std::string reason, bool options = false) {
		return Rejection{describe(m), std::move(reason), options};
	};
	// Both IDs set: which destination is meant cannot be told, so neither
	// the key nor a withdrawal can be trusted.
	if (collector && m.host_id() != 0)
		return refuse(std::string(evpn_mon_strerror(EVPN_MON_ERR_DEST)) + " (collector " +
			      std::to_string(m.collector_id()) + " with host_id " +
			      std::to_string(m.host_id()) + ", must be 0)");
	if (collector) {
		// The route's server MAC field is all zero for a collector; the
		// feed leaves it out.
		if (!m.server_mac().empty() && !withdraw)
			return refuse(std::string(evpn_mon_strerror(EVPN_MON_ERR_DEST)) +
				      " (collector with a server MAC of " +
				      std::to_string(m.server_mac().size()) + " octets, must be empty)");
	} else if (m.server_mac().size() == 6) {
		std::memcpy(r.server_mac, m.server_mac().data(), 6);
	} else if (!withdraw) {
		return refuse(std::string(evpn_mon_strerror(EVPN_MON_ERR_SERVER_MAC_LEN)) + " (" +
			      std::to_string(m.server_mac().size()) + " octets)");
	}
	if (withdraw)
		r.server_ip.len = 0;
	if (m.originator().size() != 4)
		return refuse(std::string(evpn_mon_strerror(EVPN_MON_ERR_ORIG_IP_LEN)) + " (" +
			      std::to_string(m.originator().size()) + " octets)");
	std::memcpy(r.orig_ip, m.originator().data(), 4);
	// The key first: a withdrawal needs nothing else.
	if (const auto err = evpn_mon_validate(&r, true); err != EVPN_MON_OK)
		return refuse(evpn_mon_strerror(err));

	// The key is sound from here on: name the session by its id.
	Session s;
	s.key.vni = r.vni;
	s.key.eth_tag = r.eth_tag;
	if (r.host_mac_len == 6) {
		Mac mac;
		std::memcpy(mac.data(), r.host_mac, 6);
		s.key.host_mac = mac;
	}
	s.key.host_ip = ip_of(r.host_ip);
	s.key.host_id = static_cast<std::uint16_t>(r.host_id);
	s.key.collector = collector;
	s.key.rd = m.rd();
	std::memcpy(s.key.originator.data(), r.orig_ip, 4);
	std::memcpy(s.server_mac.data(), r.server_mac, 6);
	s.server_ip = ip_of(r.server_ip);
	s.local = m.local();
	switch (m.import_state()) {
	case evpnmon::feed::v1::IMPORT_INSTALLED:
		s.import_state = ImportState::Installed;
		break;
	case evpnmon::feed::v1::IMPORT_DENIED:
		s.import_state = ImportState::Denied;
		break;
	case evpnmon::feed::v1::IMPORT_OVER_LIMIT:
		s.import_state = ImportState::OverLimit;
		break;
	default:
		// A decision of a newer bgpd that this consumer cannot read: it
		// is not an "installed", so nothing is installed.
		s.import_state = ImportState::Denied;
		break;
	}
	if (m.import_state() > evpnmon::feed::v1::IMPORT_OVER_LIMIT || m.import_state() < 0)
		s.import_reason = printable_reason(
			"import state " + std::to_string(m.import_state()) + " unknown to this consumer" +
			(m.import_reason().empty() ? "" : ": " + m.import_reason()));
	else
		s.import_reason = printable_reason(m.import_reason());

	const std::string computed = make_session_id(s.key);
	const bool feed_id = plausible_id(m.session_id());
	s.id = feed_id ? m.session_id() : computed; // none: a version-1 bgpd
	if (withdraw)
		return s; // the key is all a withdrawal needs
	if (!feed_id && !m.session_id().empty())
		return Rejection{computed, "session_id is not a printable identifier of at most " +
						   std::to_string(EVPN_MON_SESSION_ID_MAX - 1) + " characters"};

	const auto &area = m.options();
	evpn_mon_opt_error oerr = EVPN_MON_OPT_OK;
	s.options = session::Options::decode(
		std::span(reinterpret_cast<const std::uint8_t *>(area.data()), area.size()), &oerr);
	if (oerr == EVPN_MON_OPT_OK)
		oerr = s.options.validate();
	if (oerr != EVPN_MON_OPT_OK)
		return Rejection{s.id,
				 "options area (" + std::to_string(area.size()) + " octets): " +
					 evpn_mon_opt_strerror(oerr),
				 true};
	// The whole route now, options included: the server fields, and what
	// the destination kind demands (a collector's IP and ERSPAN TLV, no
	// ERSPAN TLV on a server session).
	r.opts = s.options.c();
	if (const auto err = evpn_mon_validate(&r, false); err != EVPN_MON_OK)
		return Rejection{s.id, evpn_mon_strerror(err), err >= EVPN_MON_ERR_OPT_VERSION &&
								       err != EVPN_MON_ERR_DEST};
	return s;
}

void to_proto(const Session &s, evpnmon::feed::v1::MonitorSession &m, std::uint32_t version)
{
	m.set_vni(s.key.vni);
	m.set_eth_tag(s.key.eth_tag);
	if (s.key.host_mac)
		m.set_host_mac(std::string(reinterpret_cast<const char *>(s.key.host_mac->data()), 6));
	if (s.key.host_ip)
		m.set_host_ip(ip_bytes(*s.key.host_ip));
	if (s.key.collector) {
		m.set_collector_id(s.key.host_id);
	} else {
		m.set_host_id(s.key.host_id);
		m.set_server_mac(std::string(reinterpret_cast<const char *>(s.server_mac.data()), 6));
	}
	if (s.server_ip)
		m.set_server_ip(ip_bytes(*s.server_ip));
	m.set_rd(s.key.rd);
	m.set_originator(std::string(reinterpret_cast<const char *>(s.key.originator.data()), 4));
	m.set_local(s.local);
	if (version < 2)
		return;
	const auto area = s.options.encode();
	m.set_options(std::string(reinterpret_cast<const char *>(area.data()), area.size()));
	m.set_session_id(s.id.empty() ? make_session_id(s.key) : s.id);
	if (version < 4)
		return;
	m.set_import_state(static_cast<evpnmon::feed::v1::ImportState>(s.import_state));
	m.set_import_reason(s.import_reason);
}

} // namespace evpnmon::consumer
