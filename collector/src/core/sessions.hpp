// Mirror sessions as configured: `--session NAME=span:ID`,
// `NAME=vxlan:VNI:HOSTID`, `NAME=host:MAC[,IP]`, or the sessions of
// `evpnmon-ctl sessions --json` (host sessions, for the port input). Pure
// parsing and naming; the live table is in collector.hpp.
#pragma once

#include "decode/copy.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evpnmon::collector {

struct SessionSpec {
	enum class Kind : std::uint8_t { Span, Vxlan, Host };
	std::string name;              // sanitized
	Kind kind = Kind::Span;
	std::uint16_t span_id = 0;     // Span: 0..1023
	std::uint32_t vni = 0;         // Vxlan; Host: the VNI from the session list (0: unknown)
	std::uint16_t host_id = 0;     // Vxlan
	bool has_mac = false;          // Host: a MAC and/or an IP
	std::array<std::uint8_t, 6> mac{};
	bool has_ip = false;
	IpAddr ip;
};

// File-name safe: every octet outside [A-Za-z0-9._-] becomes '_'; an empty
// name, "." and ".." become "_" so a name never walks out of DIR.
std::string sanitize_name(std::string_view name);
// Derived names of sessions nobody named.
std::string span_session_name(std::uint16_t span_id);          // "span-7"
std::string erspan_i_session_name();                            // "erspan-i"
std::string vxlan_session_name(std::uint32_t vni, std::uint16_t host_id); // "vni-1000-host-21"

// "NAME=span:ID" | "NAME=vxlan:VNI:HOSTID" | "NAME=host:MAC[,IP]". On error
// nullopt and `error` says why.
std::optional<SessionSpec> parse_session_spec(std::string_view text, std::string &error);
// The sessions of an fpm-consumer state document (`evpnmon-ctl --json
// sessions`, container evpn-monitor:fpm-consumer): each one with a host MAC
// or IP becomes a Host session named after its session id (sanitized), or
// "vni-<VNI>-<MAC|IP>" without one. Throws std::runtime_error on a document
// that is not such a state.
std::vector<SessionSpec> sessions_from_state_json(std::string_view json_text);

} // namespace evpnmon::collector
