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

} // namespace evpnmon::dp::linux_dp
