#include "links.hpp"

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>

#include <net/if.h>

#include <cstring>
#include <fstream>
#include <stdexcept>
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
constexpr const char *kErspanAlias = "evpn-monitor erspan device";

// A sysctl of one device; a missing file (IPv6 disabled in the kernel) is
// not an error.
void set_sysctl(const std::string &path, const char *value, bool required)
{
	std::ofstream f(path);
	if (f)
		f << value;
	if (required && !(f && f.flush()))
		throw std::system_error(errno ? errno : EIO, std::generic_category(),
					"dataplane/linux: write " + path);
}

void link_up(nl_sock *sock, std::uint32_t ifindex, const char *alias, unsigned mtu,
	     const std::string &what)
{
	Link change(rtnl_link_alloc());
	rtnl_link_set_flags(change.get(), IFF_UP);
	if (mtu)
		rtnl_link_set_mtu(change.get(), mtu);
	if (alias)
		rtnl_link_set_ifalias(change.get(), alias);
	Link cur(rtnl_link_alloc());
	rtnl_link_set_ifindex(cur.get(), static_cast<int>(ifindex));
	if (int err = rtnl_link_change(sock, cur.get(), change.get(), 0); err < 0)
		fail_nl(err, "set " + what + " up");
}

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

ErspanDevice::ErspanDevice(const std::string &name, bool create)
    : name_(name), peer_(name + "p")
{
	if (name.size() + 1 >= IF_NAMESIZE)
		throw std::invalid_argument("dataplane/linux: ERSPAN device name too long: " + name);
	auto sock = route_socket();
	rtnl_link *raw = nullptr;
	if (rtnl_link_get_kernel(sock.get(), 0, name.c_str(), &raw) >= 0) {
		Link l(raw);
		const char *kind = rtnl_link_get_type(l.get());
		rtnl_link *praw = nullptr;
		const bool peer_ok =
		    rtnl_link_get_kernel(sock.get(), 0, peer_.c_str(), &praw) >= 0;
		Link p(praw);
		const char *pkind = peer_ok ? rtnl_link_get_type(p.get()) : nullptr;
		if (!kind || std::strcmp(kind, "veth") != 0 || !pkind ||
		    std::strcmp(pkind, "veth") != 0 ||
		    rtnl_link_get_link(l.get()) != rtnl_link_get_ifindex(p.get()))
			throw std::system_error(
			    EEXIST, std::generic_category(),
			    "dataplane/linux: " + name + " exists but is not a veth pair with " +
				peer_);
		ifindex_ = static_cast<std::uint32_t>(rtnl_link_get_ifindex(l.get()));
		peer_ifindex_ = static_cast<std::uint32_t>(rtnl_link_get_ifindex(p.get()));
		const char *alias = rtnl_link_get_ifalias(l.get());
		created_ = alias && std::strcmp(alias, kErspanAlias) == 0;
	} else {
		if (!create)
			throw std::system_error(ENODEV, std::generic_category(),
						"dataplane/linux: ERSPAN device " + name);
		Link l(rtnl_link_veth_alloc());
		if (!l)
			throw std::system_error(ENOMEM, std::generic_category(), "veth alloc");
		rtnl_link_set_name(l.get(), name.c_str());
		rtnl_link_set_name(rtnl_link_veth_get_peer(l.get()), peer_.c_str());
		if (int err = rtnl_link_add(sock.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL);
		    err < 0)
			fail_nl(err, "create " + name);
		created_ = true;
		ifindex_ = if_nametoindex(name.c_str());
		peer_ifindex_ = if_nametoindex(peer_.c_str());
		if (!ifindex_ || !peer_ifindex_)
			throw std::system_error(ENODEV, std::generic_category(),
						"dataplane/linux: " + name + " vanished");
	}
	// IPv6 off first, so that neither end sends anything of its own.
	for (const auto &n : {name_, peer_})
		set_sysctl("/proc/sys/net/ipv6/conf/" + n + "/disable_ipv6", "1", false);
	set_sysctl("/proc/sys/net/ipv4/conf/" + name_ + "/forwarding", "1", true);
	link_up(sock.get(), peer_ifindex_, nullptr, 65535, peer_);
	link_up(sock.get(), ifindex_, created_ ? kErspanAlias : nullptr, 65535, name_);
}

ErspanDevice::~ErspanDevice()
{
	if (!created_)
		return;
	try {
		auto sock = route_socket();
		Link l(rtnl_link_alloc());
		rtnl_link_set_ifindex(l.get(), static_cast<int>(ifindex_));
		rtnl_link_delete(sock.get(), l.get()); // the peer goes with it
	} catch (...) {
	}
}

} // namespace evpnmon::dp::linux_dp
