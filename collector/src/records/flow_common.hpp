// Pieces the TCP and RoCE trackers share: session interning (a flow keeps
// a small index, not the session's strings), address formatting.
#pragma once

#include "decode/copy.hpp"
#include "records/context.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace evpnmon::collector::records {

// Address text as in Zeek's logs: dotted quad, RFC 5952 for IPv6.
std::string format_ip(const IpAddr &ip);

// Hash over the address octets (the family is in the key separately).
inline std::size_t hash_ip(const IpAddr &ip, std::size_t h)
{
	const std::size_t n = ip.v6 ? 16 : 4;
	for (std::size_t i = 0; i < n; ++i)
		h = (h ^ ip.bytes[i]) * 0x100000001b3ULL;
	return (h ^ (ip.v6 ? 1 : 0)) * 0x100000001b3ULL;
}

// Sessions seen by a tracker, by name. Names are few (configured or one
// per ERSPAN session id / VNI+HOST ID), so the table is never pruned.
class SessionTable {
public:
	std::uint32_t intern(const v1::SessionRef *ref);
	const v1::SessionRef &get(std::uint32_t index) const { return refs_[index]; }

private:
	struct Hash {
		using is_transparent = void;
		std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
	};
	std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> index_;
	std::vector<v1::SessionRef> refs_;
	// Consecutive frames mostly belong to the same session: skip the hash.
	std::uint32_t last_ = 0;
	bool have_last_ = false;
};

// Fills a record's SessionRef: the interned session with the source VTEP
// the entry was last updated from.
void fill_session(v1::SessionRef &out, const v1::SessionRef &session, const std::string &source);

} // namespace evpnmon::collector::records
