// Pieces the TCP and RoCE trackers share: session interning (a flow keeps
// a small index, not the session's strings), address formatting.
#pragma once

#include "decode/copy.hpp"
#include "records/context.hpp"

#include <cstdint>
#include <cstring>
#include <google/protobuf/arena.h>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace evpnmon::collector::records {

// Address text as in Zeek's logs: dotted quad, RFC 5952 for IPv6.
std::string format_ip(const IpAddr &ip);
// The same into `out` (its capacity reused: records are built often).
void format_ip(const IpAddr &ip, std::string &out);

// Address comparisons as IpAddr's operators (family first, then the octets
// in order) without a memcmp call each: a flow lookup makes several.
inline bool ip_equal(const IpAddr &a, const IpAddr &b)
{
	std::uint64_t x[2], y[2];
	std::memcpy(x, a.bytes.data(), 16);
	std::memcpy(y, b.bytes.data(), 16);
	return a.v6 == b.v6 && x[0] == y[0] && x[1] == y[1];
}
// <0, 0, >0 like (a <=> b)
inline int ip_compare(const IpAddr &a, const IpAddr &b)
{
	if (a.v6 != b.v6)
		return a.v6 ? 1 : -1;
	for (int i = 0; i < 2; ++i) {
		std::uint64_t x, y;
		std::memcpy(&x, a.bytes.data() + 8 * i, 8);
		std::memcpy(&y, b.bytes.data() + 8 * i, 8);
		if (x != y)
			return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
	}
	return 0;
}

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

// Where a tracker builds each record: an arena over a block of its own,
// emptied after each record, so that building one allocates nothing (a
// heap-built Envelope costs a malloc per sub-message and string). A sink
// that keeps the envelope moves it out: that copies it to the heap.
class RecordArena {
public:
	RecordArena();
	RecordArena(const RecordArena &) = delete;
	RecordArena &operator=(const RecordArena &) = delete;
	// A new envelope (VERSION_1), valid until reset().
	v1::Envelope &envelope();
	void reset() { arena_.Reset(); }

private:
	static constexpr std::size_t kBlock = 16384; // a record takes < 2 KiB
	alignas(16) char block_[kBlock];
	google::protobuf::Arena arena_;
};

} // namespace evpnmon::collector::records
