// fpm-consumer core: IPv4 routes and next hops from zebra's FPM stream, used
// only to answer "is this remote VTEP reachable?".
#pragma once

#include "core/model.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

namespace evpnmon::consumer {

class RouteTable {
public:
	struct Route {
		bool usable = true;                 // not blackhole/unreachable/prohibit
		std::optional<std::uint32_t> nh_id; // RTA_NH_ID: usable iff the group is
		bool stale = false;
	};
	using Prefix = std::pair<std::uint32_t, std::uint8_t>; // host-order addr, length

	// Returns true when something changed.
	bool add_route(const Ipv4 &dst, std::uint8_t len, Route route);
	bool del_route(const Ipv4 &dst, std::uint8_t len);
	bool add_nexthop(std::uint32_t id, bool usable);
	bool del_nexthop(std::uint32_t id);

	// Longest-prefix match; a VTEP is reachable when its best route is usable.
	bool reachable(const Ipv4 &vtep) const;

	void mark_stale();
	std::size_t sweep_stale();
	std::size_t route_count() const { return routes_.size(); }
	std::size_t nexthop_count() const { return nexthops_.size(); }

private:
	struct Nexthop {
		bool usable = true;
		bool stale = false;
	};
	std::map<Prefix, Route> routes_;
	std::map<std::uint32_t, Nexthop> nexthops_;
};

} // namespace evpnmon::consumer
