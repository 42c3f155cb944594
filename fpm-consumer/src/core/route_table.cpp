#include "core/route_table.hpp"

namespace evpnmon::consumer {

namespace {
std::uint32_t to_host(const Ipv4 &ip)
{
	return (std::uint32_t{ip[0]} << 24) | (std::uint32_t{ip[1]} << 16) |
	       (std::uint32_t{ip[2]} << 8) | std::uint32_t{ip[3]};
}
std::uint32_t mask(std::uint8_t len)
{
	return len == 0 ? 0u : (~0u << (32 - len));
}
} // namespace

bool RouteTable::add_route(const Ipv4 &dst, std::uint8_t len, Route route)
{
	if (len > 32)
		return false;
	route.stale = false;
	auto key = Prefix{to_host(dst) & mask(len), len};
	auto it = routes_.find(key);
	if (it != routes_.end() && it->second.usable == route.usable &&
	    it->second.nh_id == route.nh_id) {
		it->second.stale = false;
		return false;
	}
	routes_[key] = route;
	return true;
}

bool RouteTable::del_route(const Ipv4 &dst, std::uint8_t len)
{
	if (len > 32)
		return false;
	return routes_.erase({to_host(dst) & mask(len), len}) > 0;
}

bool RouteTable::add_nexthop(std::uint32_t id, bool usable)
{
	// A next hop that was absent changes every route through it, whatever
	// its usability.
	auto [it, fresh] = nexthops_.try_emplace(id, Nexthop{usable, false});
	const bool changed = fresh || it->second.usable != usable;
	it->second = Nexthop{usable, false};
	return changed;
}

bool RouteTable::del_nexthop(std::uint32_t id)
{
	return nexthops_.erase(id) > 0;
}

bool RouteTable::reachable(const Ipv4 &vtep) const
{
	const std::uint32_t addr = to_host(vtep);
	for (int len = 32; len >= 0; --len) {
		auto it = routes_.find({addr & mask(static_cast<std::uint8_t>(len)),
					static_cast<std::uint8_t>(len)});
		if (it == routes_.end())
			continue;
		if (!it->second.usable)
			return false;
		if (it->second.nh_id) {
			auto nh = nexthops_.find(*it->second.nh_id);
			return nh != nexthops_.end() && nh->second.usable;
		}
		return true;
	}
	return false;
}

void RouteTable::mark_stale()
{
	for (auto &[k, r] : routes_)
		r.stale = true;
	for (auto &[k, n] : nexthops_)
		n.stale = true;
}

std::size_t RouteTable::sweep_stale()
{
	std::size_t n = 0;
	for (auto it = routes_.begin(); it != routes_.end();)
		if (it->second.stale) {
			it = routes_.erase(it);
			++n;
		} else
			++it;
	for (auto it = nexthops_.begin(); it != nexthops_.end();)
		if (it->second.stale) {
			it = nexthops_.erase(it);
			++n;
		} else
			++it;
	return n;
}

} // namespace evpnmon::consumer
