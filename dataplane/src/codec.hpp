// Conversion between the interface types (types.hpp) and the structs shared
// with the BPF programs (bpf/evpnmon_shared.h). Used by both backends, so the
// memory backend indexes entries exactly as the BPF maps do.
#pragma once

#include "evpnmon_shared.h"

#include <evpnmon/dataplane/types.hpp>

#include <cstring>
#include <functional>
#include <optional>
#include <string_view>

namespace evpnmon::dp::codec {

// Match key of an entry 1/2 (MAC if present, else IP).
dp_match_key match_key(const EntryKey &key);
dp_action action(const Action &a);
Action action(const dp_action &a);
dp_decap_key decap_key(const EntryKey &key);
// The entry's full description; prof = its profile slot in dp_profile.
dp_entry_meta meta(const Entry &entry, dp_u32 prof = 0);
Entry entry(const dp_entry_meta &meta);
// A session's options compiled for the BPF program (has_profile() only).
dp_profile profile(const session::Options &options);
bool valid(const Entry &entry, std::string *why = nullptr);
// A server's key and target as set_server() accepts them.
bool valid_server(const ServerKey &key, const Action &target, std::string *why = nullptr);
// The action as both backends store and list() it: only the fields of its
// kind (a LocalPort action has no VTEP/VNI/HOST ID and vice versa).
// An ERSPAN action keeps its whole destination (the slot the BPF maps name
// it by is the entry store's).
inline Action normalized(const Action &a)
{
	Action n = action(action(a));
	if (a.kind == Action::Kind::Erspan)
		n.erspan = a.erspan;
	if (a.kind == Action::Kind::Server)
		n.server = a.server;
	return n;
}
// An ERSPAN destination as the BPF program reads it, and back.
dp_erspan erspan(const Erspan &e);
Erspan erspan(const dp_erspan &d);

template <typename T> bool same(const T &a, const T &b)
{
	return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Hash/equality over the raw bytes of a padded POD struct.
template <typename T> struct BytesHash {
	std::size_t operator()(const T &v) const
	{
		return std::hash<std::string_view>{}(std::string_view(
		    reinterpret_cast<const char *>(&v), sizeof(T)));
	}
};
template <typename T> struct BytesEq {
	bool operator()(const T &a, const T &b) const { return same(a, b); }
};

} // namespace evpnmon::dp::codec
