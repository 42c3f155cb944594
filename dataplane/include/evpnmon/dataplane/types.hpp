// evpn-monitor dataplane: value types shared by every backend and by the
// fpm-consumer. Plain data, no behaviour beyond comparison and formatting.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <evpnmon/session/options.hpp>

namespace evpnmon::dp {

using Mac = std::array<std::uint8_t, 6>;

// Octets in network order as one integer, and comparisons built on it, in
// the order the defaulted comparisons give (octet by octet, an absent
// optional first). The keys below order the consumer's maps, which compare
// them millions of times per audit; the defaulted comparison of a byte
// array calls memcmp, and did so for 27 % of the daemon's CPU while it
// audited 100,000 sessions.
template <std::size_t N>
constexpr std::uint64_t octets_value(const std::array<std::uint8_t, N> &a, std::size_t from = 0)
{
	// Eight octets at most from `from`: a longer array takes two calls.
	static_assert(N <= 16);
	std::uint64_t v = 0;
	for (std::size_t i = from; i < from + 8 && i < N; ++i)
		v = v << 8 | a[i];
	return v;
}
constexpr std::strong_ordering compare_macs(const Mac &a, const Mac &b)
{
	return octets_value(a) <=> octets_value(b);
}
template <class T, class Compare>
constexpr std::strong_ordering compare_optional(const std::optional<T> &a,
						const std::optional<T> &b, Compare compare)
{
	if (a && b)
		return compare(*a, *b);
	return a.has_value() <=> b.has_value();
}

// Capacity of both backends: installed entries of all kinds together, a
// runtime setting (Config::max_entries); beyond it install() returns
// errc::argument_list_too_long (E2BIG, see is_capacity_error()).
inline constexpr std::size_t kDefaultMaxEntries = 262144;
inline constexpr std::size_t kMaxEntriesLimit = 1u << 24; // highest accepted
// Profile slots (linux backend): one per session with a profile or an ERSPAN
// collector on this VTEP, slot 0 unused (Config::max_profiles); beyond it
// install() returns errc::no_buffer_space (also a capacity error).
inline constexpr std::size_t kDefaultMaxProfiles = 16384;
// The mirror ceiling's default rates: 1 Gbit/s and 20,000 copies a second
// per VTEP (docs/threat-model.md says why).
inline constexpr std::uint64_t kDefaultMirrorCeilingBps = 1'000'000'000;
inline constexpr std::uint64_t kDefaultMirrorCeilingPps = 20'000;
inline constexpr std::size_t kMaxProfilesLimit = 1u << 20;
// Limits of both backends (install() returns errc::no_buffer_space beyond).
inline constexpr std::size_t kMaxEntriesPerMatch = 8;  // same kind+VNI+host match
inline constexpr std::size_t kMaxCopiesPerPacket = 8;  // distinct actions per packet

// An IPv4 or IPv6 address (network byte order in `bytes`, IPv4 in bytes[0..3]).
struct IpAddr {
	enum class Family : std::uint8_t { V4 = 4, V6 = 6 };
	Family family = Family::V4;
	std::array<std::uint8_t, 16> bytes{};

	std::strong_ordering operator<=>(const IpAddr &o) const
	{
		if (auto c = family <=> o.family; c != 0)
			return c;
		if (auto c = octets_value(bytes) <=> octets_value(o.bytes); c != 0)
			return c;
		return octets_value(bytes, 8) <=> octets_value(o.bytes, 8);
	}
	bool operator==(const IpAddr &) const = default;
};

// The three entry kinds of the method.
enum class EntryKind : std::uint8_t {
	MirrorSource = 1, // entry 1: packets whose source is the monitored host
	MirrorDest = 2,   // entry 2: packets whose destination is the monitored host
	Decap = 3,        // entry 3: mirror copies carrying HOST ID -> server port
};

// Which host an entry 1/2 matches. At least one of mac/ip is set. When the MAC
// is set the backend matches on the MAC (L2 VNI); otherwise on the IP.
struct HostMatch {
	std::optional<Mac> mac;
	std::optional<IpAddr> ip;

	std::strong_ordering operator<=>(const HostMatch &o) const
	{
		if (auto c = compare_optional(mac, o.mac, compare_macs); c != 0)
			return c;
		return compare_optional(ip, o.ip, std::compare_three_way{});
	}
	bool operator==(const HostMatch &) const = default;
};

// Identity of an installed entry. For Decap entries `host` and `session`
// are empty. Several entries may share (kind, vni, host) with different
// host_id or session: one monitored host watched by several servers, or by
// one server through several sessions (each with its own profile; the
// program still sends that server one copy per packet).
struct EntryKey {
	EntryKind kind = EntryKind::MirrorSource;
	std::uint32_t vni = 0;
	HostMatch host;
	std::uint16_t host_id = 0; // 1..65535
	// The session this entry serves (evpn_mon_session_id(): stable from the
	// route key to the counters).
	std::string session;

	std::strong_ordering operator<=>(const EntryKey &o) const
	{
		if (auto c = kind <=> o.kind; c != 0)
			return c;
		if (auto c = vni <=> o.vni; c != 0)
			return c;
		if (auto c = host <=> o.host; c != 0)
			return c;
		if (auto c = host_id <=> o.host_id; c != 0)
			return c;
		return session <=> o.session;
	}
	bool operator==(const EntryKey &) const = default;
};

// An ERSPAN destination: where a collector session's copies go, and their
// encapsulation (GRE with sequence numbers, ERSPAN type II or III).
struct Erspan {
	IpAddr collector;            // IPv4 only in this version
	std::uint8_t version = 0;    // 2 or 3
	std::uint16_t span_id = 0;   // 0..1023
	std::uint8_t dscp = 0;       // 0..63
	std::uint8_t ttl = 64;       // 1..255
	std::uint16_t gre_proto = 0; // 0 = the version's own (0x88BE / 0x22EB)

	auto operator<=>(const Erspan &) const = default;
};

// A monitoring server as entries 1/2 may name it (Action::Kind::Server):
// the server of one VNI with one HOST ID. Where its copies go is the
// server's own target (Dataplane::set_server), written once per VTEP, so
// that a server's move changes one value and no entry.
struct ServerKey {
	std::uint32_t vni = 0; // 1..2^24-1
	Mac mac{};
	std::uint16_t host_id = 0; // 1..65535

	std::strong_ordering operator<=>(const ServerKey &o) const
	{
		if (auto c = vni <=> o.vni; c != 0)
			return c;
		if (auto c = compare_macs(mac, o.mac); c != 0)
			return c;
		return host_id <=> o.host_id;
	}
	bool operator==(const ServerKey &) const = default;
};

// What happens to a copy (entries 1/2) or to a decapsulated copy (entry 3).
struct Action {
	enum class Kind : std::uint8_t {
		// A server's target while it has none from this VTEP (its
		// MAC's location unknown, its VTEP unreachable): the entries
		// naming it stay and make no copy (Dataplane::set_server).
		Unresolved = 0,
		LocalPort = 1, // send the copy out of a local bridge port (ifindex)
		Vxlan = 2,     // VXLAN-GBP encapsulate: VNI + HOST ID -> remote VTEP
		Erspan = 3,    // GRE/ERSPAN encapsulate to a collector, routed by
			       // the underlay (no entry 3 anywhere)
		Server = 4,    // entries 1/2: the target of a server
			       // (Dataplane::set_server): LocalPort, Vxlan
			       // or Unresolved
	};
	Kind kind = Kind::LocalPort;
	std::uint32_t ifindex = 0;        // LocalPort: the server's bridge port
	std::array<std::uint8_t, 4> remote_vtep{}; // Vxlan: IPv4, network order
	std::uint32_t vni = 0;            // Vxlan: VNI in the copy's VXLAN header
	std::uint16_t host_id = 0;        // Vxlan: GBP Group Policy ID
	Erspan erspan;                    // Erspan: the collector
	ServerKey server;                 // Server: which one

	// The action of an entry naming `server` (its copies go to the
	// server's target).
	static Action naming(const ServerKey &server)
	{
		Action a;
		a.kind = Kind::Server;
		a.server = server;
		return a;
	}

	auto operator<=>(const Action &) const = default;
};

struct Entry {
	EntryKey key;
	Action action; // Decap entries: always LocalPort (the server's port)
	// The session's options (mirror profile); no-profile options for a
	// session without one, and for Decap entries.
	session::Options options;

	auto operator<=>(const Entry &) const = default;
};

struct Counters {
	std::uint64_t packets = 0; // packets that matched the entry
	std::uint64_t bytes = 0;
	std::uint64_t drops = 0; // copies that could not be sent / unknown HOST ID
	// Matched packets the session's profile did not copy, by the step that
	// stopped them (docs/dataplane.md, "Profiles"):
	std::uint64_t filtered = 0;    // direction or filter lines
	std::uint64_t sampled_out = 0; // the 1-in-N sampler
	std::uint64_t policed = 0;     // over the policer's rate, or over the
				       // VTEP's mirror ceiling
};

// A change in the local bridge FDB (learned or aged/removed MAC).
struct MacEvent {
	enum class Kind : std::uint8_t { Learned, Removed };
	Kind kind = Kind::Learned;
	Mac mac{};
	std::uint32_t ifindex = 0; // bridge port the MAC is behind
	std::uint32_t vni = 0;     // VNI of the bridge the port belongs to
	std::uint16_t vlan = 0;
};

std::string to_string(const Mac &mac);
std::string to_string(const IpAddr &ip);
std::string to_string(EntryKind kind);
std::optional<Mac> parse_mac(const std::string &text);
std::optional<IpAddr> parse_ip(const std::string &text);

} // namespace evpnmon::dp
