#include "core/sessions.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>
#include <stdexcept>

namespace evpnmon::collector {

namespace {

template <typename T> bool parse_uint(std::string_view s, T &out, std::uint64_t max)
{
	std::uint64_t v = 0;
	if (s.empty())
		return false;
	const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc{} || p != s.data() + s.size() || v > max)
		return false;
	out = static_cast<T>(v);
	return true;
}

bool parse_mac(std::string_view s, std::array<std::uint8_t, 6> &mac)
{
	if (s.size() != 17)
		return false;
	for (int i = 0; i < 6; ++i) {
		if (i > 0 && s[static_cast<std::size_t>(i * 3 - 1)] != ':' &&
		    s[static_cast<std::size_t>(i * 3 - 1)] != '-')
			return false;
		unsigned v = 0;
		const auto *b = s.data() + i * 3;
		const auto [p, ec] = std::from_chars(b, b + 2, v, 16);
		if (ec != std::errc{} || p != b + 2)
			return false;
		mac[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
	}
	return true;
}

bool parse_ip(std::string_view s, IpAddr &ip)
{
	const std::string text(s);
	IpAddr a;
	if (::inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) {
		ip = a;
		return true;
	}
	if (::inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) {
		a.v6 = true;
		ip = a;
		return true;
	}
	return false;
}

std::string mac_text(const std::array<std::uint8_t, 6> &m)
{
	char b[18];
	std::snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
		      m[5]);
	return b;
}

} // namespace

std::string sanitize_name(std::string_view name)
{
	std::string out;
	out.reserve(name.size());
	for (char c : name) {
		const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
				c == '.' || c == '_' || c == '-';
		out.push_back(ok ? c : '_');
	}
	if (out.empty() || out == "." || out == "..")
		return "_";
	return out;
}

std::string span_session_name(std::uint16_t span_id)
{
	return "span-" + std::to_string(span_id);
}

std::string erspan_i_session_name()
{
	return "erspan-i";
}

std::string vxlan_session_name(std::uint32_t vni, std::uint16_t host_id)
{
	return "vni-" + std::to_string(vni) + "-host-" + std::to_string(host_id);
}

std::optional<SessionSpec> parse_session_spec(std::string_view text, std::string &error)
{
	const auto eq = text.find('=');
	if (eq == std::string_view::npos || eq == 0) {
		error = "expected NAME=span:ID|vxlan:VNI:HOSTID|host:MAC[,IP], got '" + std::string(text) + "'";
		return std::nullopt;
	}
	SessionSpec s;
	s.name = sanitize_name(text.substr(0, eq));
	const std::string_view def = text.substr(eq + 1);
	const auto colon = def.find(':');
	const std::string_view kind = def.substr(0, colon);
	const std::string_view rest = colon == std::string_view::npos ? std::string_view{} : def.substr(colon + 1);
	if (kind == "span") {
		s.kind = SessionSpec::Kind::Span;
		if (!parse_uint(rest, s.span_id, 1023)) {
			error = "span id must be 0..1023 in '" + std::string(text) + "'";
			return std::nullopt;
		}
	} else if (kind == "vxlan") {
		s.kind = SessionSpec::Kind::Vxlan;
		const auto c2 = rest.find(':');
		if (c2 == std::string_view::npos || !parse_uint(rest.substr(0, c2), s.vni, 0xFFFFFF) ||
		    !parse_uint(rest.substr(c2 + 1), s.host_id, 0xFFFF)) {
			error = "expected vxlan:VNI:HOSTID (VNI 0..16777215, HOST ID 0..65535) in '" +
				std::string(text) + "'";
			return std::nullopt;
		}
	} else if (kind == "host") {
		s.kind = SessionSpec::Kind::Host;
		const auto comma = rest.find(',');
		const auto mac = rest.substr(0, comma);
		if (!mac.empty()) {
			if (!parse_mac(mac, s.mac)) {
				error = "bad MAC '" + std::string(mac) + "' in '" + std::string(text) + "'";
				return std::nullopt;
			}
			s.has_mac = true;
		}
		if (comma != std::string_view::npos) {
			if (!parse_ip(rest.substr(comma + 1), s.ip)) {
				error = "bad IP in '" + std::string(text) + "'";
				return std::nullopt;
			}
			s.has_ip = true;
		}
		if (!s.has_mac && !s.has_ip) {
			error = "host session needs a MAC or an IP: '" + std::string(text) + "'";
			return std::nullopt;
		}
	} else {
		error = "unknown session kind '" + std::string(kind) + "' (span, vxlan or host) in '" +
			std::string(text) + "'";
		return std::nullopt;
	}
	return s;
}

std::vector<SessionSpec> sessions_from_state_json(std::string_view json_text)
{
	const auto doc = nlohmann::json::parse(json_text, nullptr, false);
	if (doc.is_discarded() || !doc.is_object())
		throw std::runtime_error("sessions JSON: not a JSON object");
	const auto top = doc.find("evpn-monitor:fpm-consumer");
	if (top == doc.end() || !top->is_object())
		throw std::runtime_error("sessions JSON: no \"evpn-monitor:fpm-consumer\" container "
					 "(expected the output of evpnmon-ctl --json sessions)");
	std::vector<SessionSpec> out;
	const auto sessions = top->find("sessions");
	if (sessions == top->end() || !sessions->contains("session"))
		return out;
	const auto &list = sessions->at("session");
	if (!list.is_array())
		throw std::runtime_error("sessions JSON: sessions.session is not a list");
	for (const auto &j : list) {
		if (!j.is_object())
			continue;
		SessionSpec s;
		s.kind = SessionSpec::Kind::Host;
		if (j.contains("host-mac") && j["host-mac"].is_string() &&
		    parse_mac(j["host-mac"].get<std::string>(), s.mac))
			s.has_mac = true;
		if (j.contains("host-ip") && j["host-ip"].is_string() &&
		    parse_ip(j["host-ip"].get<std::string>(), s.ip))
			s.has_ip = true;
		if (!s.has_mac && !s.has_ip)
			continue;
		if (j.contains("vni") && j["vni"].is_number_unsigned())
			s.vni = j["vni"].get<std::uint32_t>();
		if (j.contains("session-id") && j["session-id"].is_string()) {
			s.name = sanitize_name(j["session-id"].get<std::string>());
		} else {
			s.name = sanitize_name("vni-" + std::to_string(s.vni) + "-" +
					       (s.has_mac ? mac_text(s.mac) : s.ip.to_string()));
		}
		out.push_back(std::move(s));
	}
	return out;
}

} // namespace evpnmon::collector
