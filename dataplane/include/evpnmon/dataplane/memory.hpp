// evpn-monitor dataplane: the in-memory reference backend and its packet
// simulator. Same semantics as the linux (TC eBPF) backend, on parsed frames:
// for unit tests of the fpm-consumer and for replay benchmarks.
#pragma once

#include <evpnmon/dataplane/dataplane.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace evpnmon::dp {

// Tunnel metadata of a packet received on the mirror device (what the kernel
// hands the decap program after VXLAN-GBP decapsulation).
struct TunnelMeta {
	std::uint32_t vni = 0;
	std::uint16_t host_id = 0; // GBP Group Policy ID
	// The outer source address: delivered only if (vni, remote_vtep) is a
	// decap source (Dataplane::add_decap_source).
	std::array<std::uint8_t, 4> remote_vtep{};
};

// One packet the dataplane emits besides the untouched original.
struct Output {
	enum class Kind : std::uint8_t {
		LocalCopy = 1, // mirror copy out of a local bridge port
		VxlanCopy = 2, // mirror copy VXLAN-GBP encapsulated to a VTEP
		Deliver = 3,   // decapsulated copy delivered to the server's port
		// The original frame as the simulated bridge forwards it out of
		// a host port (only ports with set_forwarding(); see there).
		Original = 4,
	};
	Kind kind = Kind::LocalCopy;
	std::uint32_t ifindex = 0;                 // LocalCopy / Deliver
	std::array<std::uint8_t, 4> remote_vtep{}; // VxlanCopy
	std::uint32_t vni = 0;                     // VxlanCopy
	std::uint16_t host_id = 0;                 // VxlanCopy
	std::vector<std::uint8_t> frame;           // inner Ethernet frame

	auto operator<=>(const Output &) const = default;
};

std::string to_string(const Output &out);

class MemoryDataplane final : public Dataplane {
public:
	explicit MemoryDataplane(Config config = {});
	~MemoryDataplane() override;

	// --- Dataplane ---
	std::error_code install(const Entry &entry) override;
	std::error_code remove(const EntryKey &key) override;
	std::vector<Entry> list() const override;
	std::optional<EntryKey> visit_entries(const std::optional<EntryKey> &from, std::size_t limit,
					      const EntryVisitor &visit) const override;
	std::optional<Counters> counters(const EntryKey &key) const override;
	void set_mac_listener(MacListener listener) override;
	void dump_macs() override;
	int event_fd() const override; // an eventfd, readable when events queued
	void process_events() override;
	std::string port_name(std::uint32_t ifindex) const override;
	Counters global_counters() const override;
	Counters dropped_originals() const override;
	std::error_code add_decap_source(std::uint32_t vni, const IpAddr &vtep) override;
	std::error_code remove_decap_source(std::uint32_t vni, const IpAddr &vtep) override;
	std::vector<std::pair<std::uint32_t, IpAddr>> decap_sources() const override;
	DecapDrops decap_drops() const override;
	CeilingCounters ceiling_counters() const override;
	std::error_code set_server(const ServerKey &key, const Action &target) override;
	std::error_code remove_server(const ServerKey &key) override;
	std::vector<std::pair<ServerKey, Action>> servers() const override;
	bool supports_servers() const override { return true; }

	// --- simulated switch ---
	// Declare a host-facing bridge port (the linux backend attaches its
	// mirror program to these) and the VNI of its bridge.
	void add_port(std::uint32_t ifindex, std::string name, std::uint32_t vni);
	void remove_port(std::uint32_t ifindex);
	// The fabric VXLAN device of a VNI's bridge: frames injected there
	// (flooded or forwarded by a remote VTEP) are bridged, not mirrored.
	void add_fabric_port(std::uint32_t ifindex, std::string name, std::uint32_t vni);
	// Bridge model. By default simulate() reports copies only, as if no
	// original left any port. With forwarding on for a host port, the
	// original is also reported (Output::Kind::Original) when the bridge
	// sends it there: flooded (broadcast, multicast, or a destination MAC
	// not in the FDB of inject_mac_event()) to every port of the VNI but
	// the ingress, or forwarded to the port its destination MAC is on.
	// Each such original first passes the port's egress program, which
	// drops originals the mirror already copies to the server on that port.
	void set_forwarding(std::uint32_t ifindex, bool on);
	// ifindex of the `vxlan external gbp` mirror device (decap ingress).
	void set_mirror_ifindex(std::uint32_t ifindex);
	std::uint32_t mirror_ifindex() const;

	// Run one packet through the dataplane. `ingress` is a host port (mirror
	// program), a fabric port (bridged only) or the mirror device (decap
	// program; `tunnel` required). Returns the copies/deliveries, and the
	// originals on ports with forwarding on (see set_forwarding()).
	// Mirror profiles are NOT simulated (the eBPF program is their only
	// implementation): if an entry the packet matches has a profile
	// (Entry::options.has_profile()), throws std::logic_error and changes
	// no counter. Entries and their options are still stored and listed.
	// Nor is the mirror ceiling (a token bucket needs a clock): every copy
	// passes and ceiling_counters() stays zero (its configuration is still
	// checked as the linux backend checks it: check_mirror_ceiling). Decap sources are
	// simulated like the program checks them.
	std::vector<Output> simulate(std::span<const std::uint8_t> frame,
				     std::uint32_t ingress,
				     std::optional<TunnelMeta> tunnel = std::nullopt);

	// Queue a MAC event as if the kernel FDB had changed; it is delivered
	// to the listener by process_events() (event_fd() becomes readable)
	// and remembered for dump_macs().
	void inject_mac_event(const MacEvent &event);

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace evpnmon::dp
