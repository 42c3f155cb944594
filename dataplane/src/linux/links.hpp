// Link-level netlink operations (libnl-route): bridge port discovery and the
// `vxlan external gbp` mirror device.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace evpnmon::dp::linux_dp {

struct BridgePort {
	std::uint32_t ifindex = 0;
	std::string name;
	std::string kind; // "veth", "vxlan", "" ...
};

// Ports enslaved to `bridge`. Throws std::system_error if it does not exist.
std::vector<BridgePort> bridge_ports(const std::string &bridge);

// RAII: ensures a `vxlan external gbp dstport <port>` device named `name`
// exists and is up. Creates it if absent (and then deletes it on destruction
// unless released); adopts an existing one after checking it is a
// collect-metadata GBP VXLAN device on the expected port.
class MirrorDevice {
public:
	MirrorDevice(const std::string &name, std::uint16_t udp_port,
		     const std::array<std::uint8_t, 4> &local, bool create);
	~MirrorDevice();
	MirrorDevice(const MirrorDevice &) = delete;
	MirrorDevice &operator=(const MirrorDevice &) = delete;

	std::uint32_t ifindex() const { return ifindex_; }
	bool created() const { return created_; }
	void release() { created_ = false; }

private:
	std::string name_;
	std::uint32_t ifindex_ = 0;
	bool created_ = false;
};

// RAII: the ERSPAN device, a veth pair `name` / `name + "p"`. ERSPAN copies
// are cloned to the egress of `name`, whose program encapsulates and routes
// them (or passes them to the peer, whose ingress program redirects them).
// Both ends up, MTU 65535 (a copy is at most the underlay's MTU, and the
// veth must not drop it), IPv6 off (nothing but copies leaves them), IPv4
// forwarding on `name` (bpf_fib_lookup's input lookup requires it).
// Created if absent (and deleted on destruction unless released); an
// existing pair is adopted, and removed on exit if a previous run of ours
// created it.
class ErspanDevice {
public:
	ErspanDevice(const std::string &name, bool create);
	~ErspanDevice();
	ErspanDevice(const ErspanDevice &) = delete;
	ErspanDevice &operator=(const ErspanDevice &) = delete;

	std::uint32_t ifindex() const { return ifindex_; }
	std::uint32_t peer_ifindex() const { return peer_ifindex_; }
	const std::string &peer_name() const { return peer_; }
	bool created() const { return created_; }
	void release() { created_ = false; }

private:
	std::string name_, peer_;
	std::uint32_t ifindex_ = 0, peer_ifindex_ = 0;
	bool created_ = false;
};

} // namespace evpnmon::dp::linux_dp
