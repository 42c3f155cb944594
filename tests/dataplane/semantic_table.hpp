// The semantic test table of the dataplane: data only. Every case is run
// against the BPF programs with BPF_PROG_TEST_RUN (test_bpf.cpp: the
// reference), against the memory backend (test_memory.cpp), and against the
// linux backend with real packets in a private network namespace
// (test_linux.cpp). Ports are named; each harness maps names to ifindexes
// of its own switch.
//
// The switch of the table: bridge VNI 100 with host ports h1 h2 h3 srv,
// bridge VNI 200 with host port g1; "ghost" is an ifindex that does not
// exist; "mirror" is the `vxlan external gbp` mirror device; "fabric" is
// VNI 100's fabric VXLAN device (a frame another VTEP flooded or forwarded).
// Copies decapsulated at "mirror" come from one of the addresses VTEP_S
// (10.9.9.5), VTEP_X (10.9.9.6) or VTEP_Y (10.9.9.7) (TunnelMeta::remote_vtep;
// the linux harness sends them from these local addresses).
//
// The bridge sends no original out of a host port unless the case lists
// the port in `forwarding` (flooding off everywhere else). Originals are
// expected as Output::Kind::Original; a capture on a port cannot tell an
// original from a copy, so run_case compares them as the ingress's copy
// kind (LocalCopy, or Deliver for "mirror"): it checks how many frames
// each port receives. test_memory.cpp checks the kinds themselves.
#pragma once

#include <evpnmon/dataplane/memory.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace evpnmon::dp::table {

struct EntrySpec {
	EntryKind kind = EntryKind::MirrorSource;
	std::uint32_t vni = 100;
	std::string mac; // "" = none
	std::string ip;  // "" = none
	std::uint16_t host_id = 1;
	// Action: port name (LocalPort), or VXLAN when vtep is set.
	std::string port;
	std::string vtep;
	std::uint32_t copy_vni = 0;
	std::uint16_t copy_host_id = 0;
	// Set: the action names the server (vni, this MAC, host_id) of
	// Case::servers instead (Action::Kind::Server).
	std::string server_mac;
};

// A server of VNI 100 (Dataplane::set_server): its target is port (a
// LocalPort), or VXLAN to vtep with its VNI and HOST ID when vtep is set,
// or Unresolved when neither is.
struct ServerSpec {
	std::string mac;
	std::uint16_t host_id = 1;
	std::string port;
	std::string vtep;
};

struct FrameSpec {
	std::string src_mac, dst_mac;
	std::string src_ip, dst_ip; // both empty: non-IP frame (EtherType 0x88b5)
	std::uint16_t vlan = 0;      // 0 = untagged
	std::size_t payload = 32;    // UDP payload bytes
};

struct OutSpec {
	Output::Kind kind = Output::Kind::LocalCopy;
	std::string port; // LocalCopy / Deliver
	std::string vtep; // VxlanCopy
	std::uint32_t vni = 0;
	std::uint16_t host_id = 0;
};

// A MAC in the bridge FDB on a port before the frame is sent; `aged`:
// learned, then aged out (removed) again.
struct MacSpec {
	std::string mac;
	std::string port;
	bool aged = false;
};

struct CounterSpec {
	std::size_t entry; // index into Case::entries
	std::uint64_t packets;
	std::uint64_t drops;
};

struct Case {
	std::string name;
	std::vector<EntrySpec> entries;
	FrameSpec frame;
	std::string ingress; // port name, or "mirror" (then `tunnel` is set)
	std::optional<TunnelMeta> tunnel;
	std::vector<OutSpec> expected;
	std::vector<CounterSpec> counters;
	std::optional<std::uint64_t> global_drops;
	std::vector<std::string> forwarding; // ports the bridge sends originals to
	std::vector<MacSpec> macs;
	// Dataplane::dropped_originals() increase (originals the egress
	// program dropped at a server's port).
	std::optional<std::uint64_t> dropped_originals;
	// (VNI, VTEP) decap sources listed before the frame (all others
	// removed), and the Dataplane::decap_drops() increase.
	std::vector<std::pair<std::uint32_t, std::string>> decap_sources;
	std::optional<DecapDrops> decap_drops;
	// Set before the entries (all others removed after the last case's
	// entries are).
	std::vector<ServerSpec> servers;
};

const std::vector<Case> &cases();

// Helpers shared by the harnesses.
std::vector<std::uint8_t> build_frame(const FrameSpec &spec);
Entry make_entry(const EntrySpec &spec,
		 const std::function<std::uint32_t(const std::string &)> &ifindex_of);
std::pair<ServerKey, Action>
make_server(const ServerSpec &spec,
	    const std::function<std::uint32_t(const std::string &)> &ifindex_of);

} // namespace evpnmon::dp::table
