// fpm-consumer core: decoded netlink updates (from zebra's FPM stream or the
// kernel), independent of any netlink library.
#pragma once

#include "core/model.hpp"

#include <cstdint>
#include <optional>

namespace evpnmon::consumer {

// RTM_NEWNEIGH / RTM_DELNEIGH, family AF_BRIDGE (an FDB entry).
struct NeighUpdate {
	bool add = true;
	std::uint32_t ifindex = 0;           // ndm_ifindex (the VXLAN device for remote MACs)
	std::optional<Mac> mac;              // NDA_LLADDR
	std::optional<Ipv4> dst;             // NDA_DST (remote VTEP), IPv4 only
	bool dst_ipv6 = false;               // NDA_DST was an IPv6 address (not kept)
	std::optional<std::uint32_t> nh_id;  // NDA_NH_ID (EVPN-MH), unsupported here
	std::optional<std::uint32_t> master; // NDA_MASTER
	std::optional<std::uint16_t> vlan;   // NDA_VLAN
	std::uint16_t state = 0;             // ndm_state
	std::uint8_t flags = 0;              // ndm_flags
};

// RTM_NEWROUTE / RTM_DELROUTE, IPv4 only (VTEP reachability).
struct RouteUpdate {
	bool add = true;
	Ipv4 dst{};
	std::uint8_t dst_len = 0;
	std::uint32_t table = 0;  // RTA_TABLE or rtm_table
	std::uint8_t type = 0;    // rtm_type (RTN_UNICAST, RTN_BLACKHOLE, ...)
	std::optional<std::uint32_t> nh_id;
	std::optional<std::uint32_t> encap_vni; // RTA_ENCAP_TYPE 100 (zebra's VXLAN)
};

// RTM_NEWNEXTHOP / RTM_DELNEXTHOP.
struct NexthopUpdate {
	bool add = true;
	std::uint32_t id = 0;
	bool blackhole = false;
	bool group = false;
};

} // namespace evpnmon::consumer
