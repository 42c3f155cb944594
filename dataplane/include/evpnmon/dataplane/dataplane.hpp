// evpn-monitor dataplane interface: one interface, two backends
// ("linux": TC eBPF, "memory": in-process reference model).
#pragma once

#include <evpnmon/dataplane/types.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace evpnmon::dp {

// Static description of the local switch the backend works on.
struct PortConfig {
	std::string bridge;        // e.g. "br100"
	std::string vxlan_device;  // the fabric's L2 VXLAN device, e.g. "vxlan100"
	std::uint32_t vni = 0;     // VNI of that bridge
};

// How the linux backend attaches its TC programs (tc_filter.hpp): tcx
// links (Linux 6.6+) or clsact + cls_bpf filters. Auto: tcx where the
// kernel has it.
enum class TcHook { Auto, Tcx, Clsact };

struct Config {
	std::vector<PortConfig> bridges;
	std::string mirror_device = "evpnmon0"; // `vxlan external gbp` device
	std::uint16_t mirror_udp_port = 4790;   // its own port, not 4789
	std::array<std::uint8_t, 4> local_vtep{}; // source IP of VXLAN copies
	std::string pin_dir = "/sys/fs/bpf/evpnmon"; // linux backend only
	// linux backend: on destruction, leave programs, pinned maps and the
	// mirror device in place so that a restarted process adopts them and
	// mirroring continues meanwhile. Default: remove what this run created.
	bool keep_on_exit = false;
	// linux backend: create the mirror device if it does not exist.
	bool create_mirror_device = true;
	// linux backend: the TC hook mechanism (TcHook).
	TcHook tc_hook = TcHook::Auto;
	// ERSPAN copies: the device they are cloned to, whose egress program
	// encapsulates and routes them (a veth pair: this name and
	// "<name>p"); created like the mirror device.
	std::string erspan_device = "evpnmon-er";
	// ERSPAN III HW ID of this VTEP (0..63).
	std::uint8_t erspan_hw_id = 0;
	// Capacity: installed entries of all kinds together (1 ..
	// kMaxEntriesLimit). The linux backend sizes its entry maps with it;
	// pinned maps of another size are replaced (their entries dropped).
	std::uint32_t max_entries = kDefaultMaxEntries;
	// Profile slots (2 .. kMaxProfilesLimit, default 16,384: 16,383
	// sessions with a profile or an ERSPAN collector). The linux backend
	// sizes its profile, policer and profile-statistics maps with it (all
	// preallocated; the statistics per possible CPU).
	std::uint32_t max_profiles = kDefaultMaxProfiles;
	// Linux backend: the mirror program reuses the previous packet's
	// matched entries on its CPU for the next packet of the same flow
	// (same VNI, MACs and, with IP-keyed entries, IP addresses) while no
	// entry 1/2 changed. Off: every packet is looked up (the benchmark's
	// per-packet lookup figures); the copies are the same either way.
	bool flow_cache = true;
	// The mirror ceiling: two token buckets over every copy this VTEP
	// emits (to a local server port, VXLAN-GBP and ERSPAN, with or
	// without a session profile); a copy passes only if both have room.
	// One is charged with the copy's mirrored octets (after truncation,
	// before encapsulation), the other with one per copy: a copy's CPU
	// cost on the VTEP is per packet, and small copies would pass a bit
	// rate by the ten thousand. Copies over either are dropped and
	// counted (CeilingCounters, and as `policed` on the entries that
	// selected them); originals never. A rate of 0 leaves its bucket
	// out; both 0 = off (an explicit choice: the default is on). The
	// memory backend does not model it.
	std::uint64_t mirror_ceiling_bps = kDefaultMirrorCeilingBps;
	// Bucket depth in octets; 0 = the default (10 ms at the rate, at
	// least kMirrorCeilingBurstFloor). At most kMaxMirrorCeilingBurst
	// (both backends throw std::invalid_argument beyond:
	// check_mirror_ceiling).
	std::uint64_t mirror_ceiling_burst = 0;
	// Copies per second (at most kMaxMirrorCeilingPps); 0 = no packet
	// limit.
	std::uint64_t mirror_ceiling_pps = kDefaultMirrorCeilingPps;
	// The packet bucket's depth in copies; 0 = the default (10 ms at the
	// rate, at least kMirrorCeilingPacketBurstFloor). At most
	// kMaxMirrorCeilingPacketBurst (check_mirror_ceiling).
	std::uint64_t mirror_ceiling_packet_burst = 0;
};

// The default bucket's floor: a copy is one skb, and a GRO/GSO aggregate's
// (64 KiB of IP payload plus its Ethernet and VLAN headers) is a little
// over 64 KiB; a bucket smaller than a copy would never pass it. BIG TCP
// aggregates (up to 512 KiB) need an explicit, larger burst.
inline constexpr std::uint64_t kMirrorCeilingBurstFloor = 128 * 1024;
// The deepest bucket: its nano-bits (octets * 8 * 10^9) fit 64 bits.
inline constexpr std::uint64_t kMaxMirrorCeilingBurst = std::uint64_t{1} << 31;

// Config::mirror_ceiling_burst, or its default when 0: 10 ms at the rate,
// clamped to kMirrorCeilingBurstFloor .. kMaxMirrorCeilingBurst.
std::uint64_t mirror_ceiling_burst_octets(const Config &config);

// The packet bucket's limits. The default depth's floor lets a short run of
// copies through (one TCP window's ACKs, a burst of probes) at any rate.
inline constexpr std::uint64_t kMaxMirrorCeilingPps = 1'000'000'000;
inline constexpr std::uint64_t kMirrorCeilingPacketBurstFloor = 64;
inline constexpr std::uint64_t kMaxMirrorCeilingPacketBurst = std::uint64_t{1} << 24;

// Config::mirror_ceiling_packet_burst, or its default when 0: 10 ms at the
// rate, clamped to kMirrorCeilingPacketBurstFloor ..
// kMaxMirrorCeilingPacketBurst.
std::uint64_t mirror_ceiling_packet_burst(const Config &config);

// Throws std::invalid_argument ("<who>: ...") if the ceiling's settings
// cannot be represented (a burst above kMaxMirrorCeilingBurst or
// kMaxMirrorCeilingPacketBurst, a packet rate above kMaxMirrorCeilingPps). Both
// backends call it, so they accept and refuse the same configurations.
void check_mirror_ceiling(const Config &config, const std::string &who);

// The ceiling's settings as text, one grammar for every tool: digits, an
// optional fraction, an optional k/m/g suffix; the value must be a whole
// number and must not wrap. parse_bit_rate: bits per second, k/m/g =
// 10^3/10^6/10^9, "off" = 0 (no ceiling); parse_packet_rate: copies per
// second, the same grammar. parse_byte_size: octets, k/m/g =
// 2^10/2^20/2^30. nullopt when the text is not such a number; the callers
// check their own ranges.
std::optional<std::uint64_t> parse_bit_rate(std::string_view text);
std::optional<std::uint64_t> parse_packet_rate(std::string_view text);
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

// "auto", "tcx", "clsact"; nullopt otherwise.
std::optional<TcHook> parse_tc_hook(std::string_view text);
const char *tc_hook_name(TcHook hook);

// linux backend: the id of the first program on a device's TC ingress or
// egress hook (tcx, where evpn-monitor attaches at the head; else its
// clsact filter), 0 if none.
std::uint32_t attached_program_id(int ifindex, bool egress);

// What the mirror ceiling passed and dropped on this VTEP (all CPUs), while
// it is on; bytes are mirrored octets (after truncation).
struct CeilingCounters {
	std::uint64_t passed_packets = 0;
	std::uint64_t passed_bytes = 0;
	std::uint64_t dropped_packets = 0; // copies over the ceiling
	std::uint64_t dropped_bytes = 0;
	// of dropped_packets: those the packet rate refused (the bit rate may
	// have refused them too)
	std::uint64_t dropped_by_packet_rate = 0;
};

// Copies arriving on the mirror device that entry 3 did not decapsulate,
// by reason (each counted once, in the first check it fails).
struct DecapDrops {
	std::uint64_t no_tunnel_metadata = 0; // no IPv4 VXLAN tunnel key / GBP option
	std::uint64_t unknown_source = 0;     // outer source is not a VTEP of that VNI
	std::uint64_t unknown_host_id = 0;    // no entry 3 for (VNI, HOST ID)
};

// install() found no room: the dataplane holds max_entries entries already
// (E2BIG), or a fixed table is full (ENOBUFS: the 16,383 profile slots, the
// 4,095 ERSPAN destinations, the 8 actions of one match). Nothing was
// written; retrying the same entry succeeds once others are removed.
inline bool is_capacity_error(std::error_code ec)
{
	return ec == std::errc::argument_list_too_long || ec == std::errc::no_buffer_space;
}

// What one ERSPAN destination (collector) got from this VTEP.
struct ErspanCounters {
	std::uint64_t packets = 0;       // copies sent towards the collector
	std::uint64_t bytes = 0;         // their inner (mirrored) octets
	std::uint64_t no_route = 0;      // dropped: no route to the collector
	std::uint64_t mtu_truncated = 0; // cut to fit the underlay MTU (T set)
	std::uint64_t errors = 0;        // encapsulation or redirect failed
	std::uint32_t last_seq = 0;      // last GRE sequence number used
};

class Dataplane {
public:
	virtual ~Dataplane() = default;
	Dataplane() = default;
	Dataplane(const Dataplane &) = delete;
	Dataplane &operator=(const Dataplane &) = delete;

	// Insert, or replace the action of an entry with the same key.
	virtual std::error_code install(const Entry &entry) = 0;
	// Remove; removing an absent key is not an error.
	virtual std::error_code remove(const EntryKey &key) = 0;
	// Opens a batch: until the next flush(), install() and remove() may
	// reach the packet path only at that flush(), so that a backend can
	// write many changes in few system calls. Each change still reaches
	// it whole (one key's lookup at a time, as without a batch), and no
	// slot, port or profile an old state names is reused or released
	// before the packet path no longer names it. Without a batch, each
	// call has reached the packet path when it returns.
	virtual void begin_batch() {}
	// Ends a batch (if one is open): the packet path gets every change;
	// and writes what a backend keeps for a restart and defers to batch
	// it. The backend also does both on its own, at the latest within a
	// second and on destruction; an error is retried at the next flush.
	virtual std::error_code flush() { return {}; }
	// Everything installed now (also what a previous run left behind, so a
	// restarted consumer can reconcile without touching correct entries),
	// in key order.
	virtual std::vector<Entry> list() const = 0;
	// The same entries, in the same order, each handed to `visit` where
	// the backend holds it, not copied: a reader that compares them with
	// what it holds (the consumer's re-read, a merge that relies on the
	// order) allocates nothing. The references are valid during the call
	// only; `visit` must not change the dataplane.
	using EntryVisitor =
		std::function<void(const EntryKey &, const Action &, const session::Options &)>;
	void for_each_entry(const EntryVisitor &visit) const
	{
		visit_entries(std::nullopt, SIZE_MAX, visit);
	}
	// Some of them: those from the key `from` on (every one: none), at
	// most `limit`, so that a reader can read in parts with other work in
	// between (the consumer's re-read at 100,000 sessions). Returns the
	// key of the first entry not visited; none when the last one was.
	// Default: through list(), which copies them all at every call (both
	// backends find `from` in their ordered index instead).
	virtual std::optional<EntryKey> visit_entries(const std::optional<EntryKey> &from,
						      std::size_t limit,
						      const EntryVisitor &visit) const
	{
		for (const auto &e : list()) {
			if (from && e.key < *from)
				continue;
			if (limit-- == 0)
				return e.key;
			visit(e.key, e.action, e.options);
		}
		return std::nullopt;
	}
	virtual std::optional<Counters> counters(const EntryKey &key) const = 0;

	// Local MAC learning. The callback runs from process_events().
	using MacListener = std::function<void(const MacEvent &)>;
	virtual void set_mac_listener(MacListener listener) = 0;
	// Emits a Learned event for every MAC currently in the local FDBs.
	virtual void dump_macs() = 0;
	// File descriptor that becomes readable when events are pending
	// (-1 if the backend has none); call process_events() then.
	virtual int event_fd() const = 0;
	virtual void process_events() = 0;

	// Bridge port (ifindex) -> name, for display.
	virtual std::string port_name(std::uint32_t ifindex) const = 0;

	// Counters not tied to an installed entry: drops = decapsulated copies
	// with an unknown HOST ID (or without tunnel metadata) plus copies
	// beyond the per-packet limit; packets/bytes = the unknown-HOST-ID
	// copies. Default: all zero (added after the first contract, so
	// existing implementations stay source-compatible).
	virtual Counters global_counters() const { return {}; }

	// Original frames the bridge flooded/forwarded out of a monitoring
	// server's port and the dataplane dropped there because the mirror
	// already sends that server a copy (packets/bytes/drops all count
	// them). Not part of global_counters(). Default: zero.
	virtual Counters dropped_originals() const { return {}; }

	// Per ERSPAN destination in use (the Action::erspan of installed
	// entries). Default: none.
	virtual std::vector<std::pair<Erspan, ErspanCounters>>
	erspan_counters() const
	{
		return {};
	}

	// Decapsulation sources: entry 3 decapsulates a copy only if its
	// outer source address is a VTEP of the copy's VNI listed here (the
	// consumer lists the VNI's remote VTEPs, the flood list that zebra
	// installs from IMET routes). Adding a present pair or removing an
	// absent one is not an error. A full table: is_capacity_error().
	// IPv4 VTEPs only; VNI 0 or above 2^24-1, an IPv6 or zero address:
	// errc::invalid_argument. Copies refused for their source are also
	// drops of global_counters().
	virtual std::error_code add_decap_source(std::uint32_t vni, const IpAddr &vtep) = 0;
	virtual std::error_code remove_decap_source(std::uint32_t vni, const IpAddr &vtep) = 0;
	// Everything listed now (also what a previous run left behind).
	virtual std::vector<std::pair<std::uint32_t, IpAddr>> decap_sources() const = 0;
	virtual DecapDrops decap_drops() const = 0;

	virtual CeilingCounters ceiling_counters() const = 0;

	// Servers: entries 1/2 whose action is Action::Kind::Server send
	// their copies to the server's target, resolved per packet, so that
	// a server's move is one set_server() whatever the number of entries
	// naming it. Within one packet every entry naming a server sees the
	// same target, and copies are deduplicated on the resolved target
	// (docs/exactly-once.md): a move never copies one packet to both the
	// old and the new target.
	// set_server: the target is LocalPort, Vxlan with the key's VNI and
	// HOST ID, or Unresolved (the server has no target from here: the
	// entries naming it match and make no copy, which is not a drop);
	// anything else, or an invalid key: errc::invalid_argument.
	// A new server or a new target (a move) has reached the packet path
	// when it returns, also in a batch. Full: is_capacity_error().
	// install() of an entry naming a server not set:
	// errc::no_such_device_or_address (ENXIO). remove_server() of a
	// server an entry names: errc::device_or_resource_busy (EBUSY); in a
	// batch, a removed entry names it until the flush(). Removing an
	// absent server is not an error. Defaults: not supported.
	virtual std::error_code set_server(const ServerKey &key, const Action &target)
	{
		(void)key;
		(void)target;
		return std::make_error_code(std::errc::operation_not_supported);
	}
	virtual std::error_code remove_server(const ServerKey &key)
	{
		(void)key;
		return std::make_error_code(std::errc::operation_not_supported);
	}
	// Every server set now (also what a previous run left), in key order.
	virtual std::vector<std::pair<ServerKey, Action>> servers() const { return {}; }
	// Whether this dataplane has servers (both backends do); without,
	// entries carry their own actions.
	virtual bool supports_servers() const { return false; }
};

// Factory: backend is "linux" or "memory". Throws std::system_error /
// std::invalid_argument with a clear message on failure.
std::unique_ptr<Dataplane> make_dataplane(const std::string &backend,
					  const Config &config);

} // namespace evpnmon::dp
