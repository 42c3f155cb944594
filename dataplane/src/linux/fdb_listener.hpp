// Local MAC learning from the kernel bridge FDB (libmnl, RTNLGRP_NEIGH,
// AF_BRIDGE). Reports entries on the host-facing ports only: remote MACs
// (on VXLAN devices, or with a VTEP destination) and the ports' own
// (permanent) addresses are ignored; entries on host ports count even when
// flagged extern_learn (a MAC that moved here from a remote VTEP).
// The same socket follows RTNLGRP_LINK so that ports plugged into (or
// removed from) a bridge after start get (or lose) the mirror program.
#pragma once

#include <evpnmon/dataplane/types.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

struct mnl_socket;

namespace evpnmon::dp::linux_dp {

class FdbListener {
public:
	using PortVni = std::function<std::optional<std::uint32_t>(std::uint32_t)>;
	using Sink = std::function<void(const MacEvent &)>;
	struct LinkEvent {
		bool deleted = false;
		std::uint32_t ifindex = 0;
		std::uint32_t master = 0; // 0: not enslaved
		std::string name;
		std::string kind; // IFLA_INFO_KIND, e.g. "veth", "vxlan"
	};
	using LinkSink = std::function<void(const LinkEvent &)>;

	explicit FdbListener(PortVni port_vni); // throws std::system_error
	~FdbListener();
	FdbListener(const FdbListener &) = delete;
	FdbListener &operator=(const FdbListener &) = delete;

	int fd() const;
	// Reads every pending notification (non-blocking). After an overrun
	// (notifications lost) it calls `relist` first, for the caller to
	// re-read the links whose events may be among the lost (a port
	// plugged or unplugged meanwhile), then dumps the FDB: every current
	// MAC as Learned, on the ports as they now are.
	void process(const Sink &sink, const LinkSink &links = {},
		     const std::function<void()> &relist = {});
	// Dumps the current FDB (its own socket) as Learned events.
	void dump(const Sink &sink);

private:
	struct Del {
		void operator()(mnl_socket *s) const;
	};
	std::unique_ptr<mnl_socket, Del> sock_;
	PortVni port_vni_;
};

} // namespace evpnmon::dp::linux_dp
