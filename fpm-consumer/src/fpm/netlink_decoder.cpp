#include "fpm/netlink_decoder.hpp"

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace evpnmon::consumer::fpm {

namespace {

constexpr std::uint16_t kZebraEncapVxlan = 100; // NET_VXLAN, FRR lib/nexthop.h

// Collects attribute pointers after validating their payload size.
template <std::size_t N> struct AttrTable {
	std::array<const nlattr *, N + 1> tb{};
	const char *end = nullptr; // end of the last attribute walked
};

template <std::size_t N> int collect_cb(const nlattr *attr, void *data)
{
	auto *t = static_cast<AttrTable<N> *>(data);
	const int type = mnl_attr_get_type(attr);
	if (type <= static_cast<int>(N))
		t->tb[static_cast<std::size_t>(type)] = attr;
	t->end = reinterpret_cast<const char *>(attr) + MNL_ALIGN(attr->nla_len);
	return MNL_CB_OK;
}

template <std::size_t N>
bool parse_attrs(const nlmsghdr *nlh, std::size_t hdr_len, AttrTable<N> &t)
{
	if (mnl_nlmsg_get_payload_len(nlh) < hdr_len)
		return false;
	// mnl_attr_parse silently stops at an attribute whose length runs past
	// the message: the walk must reach the end of the message, or it is
	// malformed.
	t.end = static_cast<const char *>(mnl_nlmsg_get_payload_offset(nlh, hdr_len));
	if (mnl_attr_parse(nlh, static_cast<unsigned>(hdr_len), collect_cb<N>, &t) < MNL_CB_STOP)
		return false;
	return t.end >= reinterpret_cast<const char *>(nlh) + nlh->nlmsg_len;
}

bool get_u32(const nlattr *a, std::optional<std::uint32_t> &out)
{
	if (!a)
		return true;
	if (mnl_attr_get_payload_len(a) < sizeof(std::uint32_t))
		return false;
	std::uint32_t v;
	std::memcpy(&v, mnl_attr_get_payload(a), sizeof(v));
	out = v;
	return true;
}

enum class Result { Ok, Ignored, Malformed };

Result decode_neigh_impl(const nlmsghdr *nlh, UpdateSink &sink);

bool decode_neigh(const nlmsghdr *nlh, UpdateSink &sink, DecodeCounters &counters)
{
	switch (decode_neigh_impl(nlh, sink)) {
	case Result::Ok:
		++counters.neigh;
		return true;
	case Result::Ignored:
		++counters.ignored;
		return true;
	case Result::Malformed:
		break;
	}
	return false;
}

Result decode_neigh_impl(const nlmsghdr *nlh, UpdateSink &sink)
{
	AttrTable<NDA_MAX> t;
	if (!parse_attrs(nlh, sizeof(ndmsg), t))
		return Result::Malformed;
	ndmsg nd;
	std::memcpy(&nd, mnl_nlmsg_get_payload(nlh), sizeof(nd));
	if (nd.ndm_family != AF_BRIDGE)
		return Result::Ignored; // ARP/ND, not an FDB entry
	NeighUpdate u;
	u.add = nlh->nlmsg_type == RTM_NEWNEIGH;
	u.ifindex = static_cast<std::uint32_t>(nd.ndm_ifindex);
	u.state = nd.ndm_state;
	u.flags = nd.ndm_flags;
	if (const nlattr *a = t.tb[NDA_LLADDR]) {
		if (mnl_attr_get_payload_len(a) != 6)
			return Result::Malformed;
		Mac mac;
		std::memcpy(mac.data(), mnl_attr_get_payload(a), 6);
		u.mac = mac;
	}
	if (const nlattr *a = t.tb[NDA_DST]) {
		const auto len = mnl_attr_get_payload_len(a);
		if (len == 4) {
			Ipv4 ip;
			std::memcpy(ip.data(), mnl_attr_get_payload(a), 4);
			u.dst = ip;
		} else if (len == 16) {
			u.dst_ipv6 = true;
		} else {
			return Result::Malformed;
		}
	}
	if (!get_u32(t.tb[NDA_NH_ID], u.nh_id) || !get_u32(t.tb[NDA_MASTER], u.master))
		return Result::Malformed;
	if (const nlattr *a = t.tb[NDA_VLAN]) {
		if (mnl_attr_get_payload_len(a) < 2)
			return Result::Malformed;
		u.vlan = mnl_attr_get_u16(a);
	}
	sink.on_neigh(u);
	return Result::Ok;
}

int encap_cb(const nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == 0 && mnl_attr_get_payload_len(attr) >= 4)
		*static_cast<std::optional<std::uint32_t> *>(data) = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

bool decode_route(const nlmsghdr *nlh, UpdateSink &sink, DecodeCounters &counters)
{
	AttrTable<RTA_MAX> t;
	if (!parse_attrs(nlh, sizeof(rtmsg), t))
		return false;
	rtmsg rt;
	std::memcpy(&rt, mnl_nlmsg_get_payload(nlh), sizeof(rt));
	if (rt.rtm_family != AF_INET || rt.rtm_dst_len > 32) {
		if (rt.rtm_family == AF_INET)
			return false;
		++counters.ignored;
		return true;
	}
	RouteUpdate u;
	u.add = nlh->nlmsg_type == RTM_NEWROUTE;
	u.dst_len = rt.rtm_dst_len;
	u.type = rt.rtm_type;
	u.table = rt.rtm_table;
	if (const nlattr *a = t.tb[RTA_DST]) {
		if (mnl_attr_get_payload_len(a) != 4)
			return false;
		std::memcpy(u.dst.data(), mnl_attr_get_payload(a), 4);
	} else if (u.dst_len != 0) {
		return false;
	}
	std::optional<std::uint32_t> table;
	if (!get_u32(t.tb[RTA_TABLE], table) || !get_u32(t.tb[RTA_NH_ID], u.nh_id))
		return false;
	if (table)
		u.table = *table;
	if (const nlattr *type = t.tb[RTA_ENCAP_TYPE]; type && t.tb[RTA_ENCAP]) {
		if (mnl_attr_get_payload_len(type) < 2)
			return false;
		if (mnl_attr_get_u16(type) == kZebraEncapVxlan &&
		    mnl_attr_parse_nested(t.tb[RTA_ENCAP], encap_cb, &u.encap_vni) < MNL_CB_STOP)
			return false;
	}
	++counters.routes;
	sink.on_route(u);
	return true;
}

bool decode_nexthop(const nlmsghdr *nlh, UpdateSink &sink)
{
	AttrTable<NHA_MAX> t;
	if (!parse_attrs(nlh, sizeof(nhmsg), t))
		return false;
	NexthopUpdate u;
	u.add = nlh->nlmsg_type == RTM_NEWNEXTHOP;
	std::optional<std::uint32_t> id;
	if (!get_u32(t.tb[NHA_ID], id) || !id)
		return false;
	u.id = *id;
	u.blackhole = t.tb[NHA_BLACKHOLE] != nullptr;
	u.group = t.tb[NHA_GROUP] != nullptr;
	sink.on_nexthop(u);
	return true;
}

} // namespace

bool decode_netlink(std::span<const std::uint8_t> payload, UpdateSink &sink,
		    DecodeCounters &counters)
{
	if (payload.empty())
		return true;
	// Netlink structures want 4-byte alignment; FPM frames need not give it.
	std::vector<std::uint32_t> aligned;
	const void *base = payload.data();
	if (reinterpret_cast<std::uintptr_t>(base) % alignof(nlmsghdr) != 0) {
		aligned.resize((payload.size() + 3) / 4);
		std::memcpy(aligned.data(), payload.data(), payload.size());
		base = aligned.data();
	}
	int len = static_cast<int>(std::min<std::size_t>(payload.size(), 1u << 30));
	auto *nlh = static_cast<const nlmsghdr *>(base);
	// mnl_nlmsg_ok() compares (int)nlmsg_len, so a length >= 2^31 passes it:
	// check the unsigned length ourselves first.
	auto fits = [&](const nlmsghdr *h, int left) {
		return left >= static_cast<int>(sizeof(nlmsghdr)) &&
		       h->nlmsg_len <= static_cast<std::uint32_t>(left) && mnl_nlmsg_ok(h, left);
	};
	while (fits(nlh, len)) {
		++counters.messages;
		bool ok = true;
		switch (nlh->nlmsg_type) {
		case RTM_NEWNEIGH:
		case RTM_DELNEIGH:
			ok = decode_neigh(nlh, sink, counters);
			break;
		case RTM_NEWROUTE:
		case RTM_DELROUTE:
			ok = decode_route(nlh, sink, counters);
			break;
		case RTM_NEWNEXTHOP:
		case RTM_DELNEXTHOP:
			ok = decode_nexthop(nlh, sink);
			if (ok)
				++counters.nexthops;
			break;
		default:
			++counters.ignored;
			break;
		}
		if (!ok)
			++counters.malformed;
		nlh = mnl_nlmsg_next(nlh, &len);
	}
	// Anything left that is not a whole message is a broken chain.
	if (len > 0) {
		++counters.malformed;
		return false;
	}
	return true;
}

} // namespace evpnmon::consumer::fpm
