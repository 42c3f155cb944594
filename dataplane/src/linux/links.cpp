#include "links.hpp"

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>

#include <net/if.h>

#include <cstring>
#include <memory>
#include <system_error>

namespace evpnmon::dp::linux_dp {

namespace {

struct SockDel {
	void operator()(nl_sock *s) const { nl_socket_free(s); }
};
struct CacheDel {
	void operator()(nl_cache *c) const { nl_cache_free(c); }
};
struct LinkDel {
	void operator()(rtnl_link *l) const { rtnl_link_put(l); }
};
struct AddrDel {
	void operator()(nl_addr *a) const { nl_addr_put(a); }
};
using Sock = std::unique_ptr<nl_sock, SockDel>;
using Link = std::unique_ptr<rtnl_link, LinkDel>;

[[noreturn]] void fail_nl(int nlerr, const std::string &what)
{
	throw std::system_error(EIO, std::generic_category(),
				"dataplane/linux: " + what + ": " + nl_geterror(nlerr));
}

Sock route_socket()
{
	Sock s(nl_socket_alloc());
	if (!s)
		throw std::system_error(ENOMEM, std::generic_category(), "nl_socket_alloc");
	if (int err = nl_connect(s.get(), NETLINK_ROUTE); err < 0)
		fail_nl(err, "netlink connect");
	return s;
}

constexpr const char *kOwnerAlias = "evpn-monitor mirror device";

} // namespace

std::vector<BridgePort> bridge_ports(const std::string &bridge)
{
	const unsigned br = if_nametoindex(bridge.c_str());
	if (!br)
		throw std::system_error(ENODEV, std::generic_category(),
					"dataplane/linux: bridge " + bridge);
	auto sock = route_socket();
	nl_cache *raw = nullptr;
	if (int err = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw); err < 0)
		fail_nl(err, "link dump");
	std::unique_ptr<nl_cache, CacheDel> cache(raw);
	std::vector<BridgePort> out;
	for (nl_object *o = nl_cache_get_first(cache.get()); o;
	     o = nl_cache_get_next(o)) {
		auto *l = reinterpret_cast<rtnl_link *>(o);
		if (static_cast<unsigned>(rtnl_link_get_master(l)) != br)
			continue;
		const char *kind = rtnl_link_get_type(l);
		out.push_back({static_cast<std::uint32_t>(rtnl_link_get_ifindex(l)),
			       rtnl_link_get_name(l), kind ? kind : ""});
	}
	return out;
}

MirrorDevice::MirrorDevice(const std::string &name, std::uint16_t udp_port,
			   const std::array<std::uint8_t, 4> &local, bool create)
    : name_(name)
{
	auto sock = route_socket();
	rtnl_link *raw = nullptr;
	if (rtnl_link_get_kernel(sock.get(), 0, name.c_str(), &raw) >= 0) {
		Link l(raw);
		const char *kind = rtnl_link_get_type(l.get());
		if (!kind || std::strcmp(kind, "vxlan") != 0 ||
		    rtnl_link_vxlan_get_collect_metadata(l.get()) != 1)
			throw std::system_error(
			    EEXIST, std::generic_category(),
			    "dataplane/linux: " + name +
				" exists but is not a `vxlan external` device");
		std::uint32_t flags = 0;
		rtnl_link_vxlan_get_flags(l.get(), &flags);
		if (!(flags & RTNL_LINK_VXLAN_F_GBP))
			throw std::system_error(
			    EEXIST, std::generic_category(),
			    "dataplane/linux: " + name +
				" exists but has no `gbp`: copies could not carry the HOST ID");
		std::uint32_t port = 0;
		rtnl_link_vxlan_get_port(l.get(), &port);
		if (port != udp_port)
			throw std::system_error(
			    EEXIST, std::generic_category(),
			    "dataplane/linux: " + name + " uses UDP port " +
				std::to_string(port) + ", expected " +
				std::to_string(udp_port));
		ifindex_ = static_cast<std::uint32_t>(rtnl_link_get_ifindex(l.get()));
		// Created by a previous run of ours: ours to remove on clean exit.
		const char *alias = rtnl_link_get_ifalias(l.get());
		created_ = alias && std::strcmp(alias, kOwnerAlias) == 0;
	} else {
		if (!create)
			throw std::system_error(ENODEV, std::generic_category(),
						"dataplane/linux: mirror device " + name);
		Link l(rtnl_link_vxlan_alloc());
		rtnl_link_set_name(l.get(), name.c_str());
		rtnl_link_vxlan_set_collect_metadata(l.get(), 1);
		rtnl_link_vxlan_set_flags(l.get(), RTNL_LINK_VXLAN_F_GBP, 1);
		rtnl_link_vxlan_set_port(l.get(), udp_port);
		rtnl_link_vxlan_set_learning(l.get(), 0);
		if (local != std::array<std::uint8_t, 4>{}) {
			std::unique_ptr<nl_addr, AddrDel> a(
			    nl_addr_build(AF_INET, local.data(), 4));
			rtnl_link_vxlan_set_local(l.get(), a.get());
		}
		if (int err = rtnl_link_add(sock.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL);
		    err < 0)
			fail_nl(err, "create " + name);
		created_ = true;
		ifindex_ = if_nametoindex(name.c_str());
	}
	// Bring it up.
	Link change(rtnl_link_alloc());
	rtnl_link_set_flags(change.get(), IFF_UP);
	if (created_) // mark it, so that a later run knows it may remove it
		rtnl_link_set_ifalias(change.get(), kOwnerAlias);
	Link cur(rtnl_link_alloc());
	rtnl_link_set_ifindex(cur.get(), static_cast<int>(ifindex_));
	if (int err = rtnl_link_change(sock.get(), cur.get(), change.get(), 0); err < 0)
		fail_nl(err, "set " + name + " up");
}

MirrorDevice::~MirrorDevice()
{
	if (!created_)
		return;
	try {
		auto sock = route_socket();
		Link l(rtnl_link_alloc());
		rtnl_link_set_ifindex(l.get(), static_cast<int>(ifindex_));
		rtnl_link_delete(sock.get(), l.get());
	} catch (...) {
	}
}

} // namespace evpnmon::dp::linux_dp
