// Test helper: build FPM frames holding netlink messages with libmnl, the way
// zebra's dplane_fpm_nl encodes them.
#pragma once

#include "core/model.hpp"

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

namespace evpnmon::test {

class NlMsg {
public:
	explicit NlMsg(std::uint16_t type) : buf_(8192, 0)
	{
		nlh_ = mnl_nlmsg_put_header(buf_.data());
		nlh_->nlmsg_type = type;
		nlh_->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	}
	template <typename T> T *extra()
	{
		return static_cast<T *>(mnl_nlmsg_put_extra_header(nlh_, sizeof(T)));
	}
	nlmsghdr *nlh() { return nlh_; }
	std::vector<std::uint8_t> bytes() const
	{
		return {buf_.begin(), buf_.begin() + nlh_->nlmsg_len};
	}

private:
	std::vector<std::uint8_t> buf_;
	nlmsghdr *nlh_;
};

inline std::vector<std::uint8_t> neigh_msg(bool add, std::uint32_t ifindex, const dp::Mac &mac,
					   std::optional<consumer::Ipv4> dst, std::uint32_t master = 50)
{
	NlMsg m(add ? RTM_NEWNEIGH : RTM_DELNEIGH);
	auto *nd = m.extra<ndmsg>();
	nd->ndm_family = AF_BRIDGE;
	nd->ndm_ifindex = static_cast<int>(ifindex);
	nd->ndm_state = NUD_NOARP;
	nd->ndm_flags = NTF_SELF | NTF_MASTER | NTF_EXT_LEARNED;
	mnl_attr_put_u8(m.nlh(), NDA_PROTOCOL, 11);
	mnl_attr_put(m.nlh(), NDA_LLADDR, 6, mac.data());
	if (dst)
		mnl_attr_put(m.nlh(), NDA_DST, 4, dst->data());
	mnl_attr_put_u32(m.nlh(), NDA_MASTER, master);
	return m.bytes();
}

inline std::vector<std::uint8_t> route_msg(bool add, consumer::Ipv4 dst, std::uint8_t len,
					   std::uint8_t type = RTN_UNICAST,
					   std::optional<std::uint32_t> nh_id = std::nullopt)
{
	NlMsg m(add ? RTM_NEWROUTE : RTM_DELROUTE);
	auto *rt = m.extra<rtmsg>();
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = len;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_type = type;
	rt->rtm_protocol = 186; // bgp
	mnl_attr_put(m.nlh(), RTA_DST, 4, dst.data());
	mnl_attr_put_u32(m.nlh(), RTA_TABLE, RT_TABLE_MAIN);
	if (nh_id)
		mnl_attr_put_u32(m.nlh(), RTA_NH_ID, *nh_id);
	return m.bytes();
}

inline std::vector<std::uint8_t> nexthop_msg(bool add, std::uint32_t id, bool blackhole = false)
{
	NlMsg m(add ? RTM_NEWNEXTHOP : RTM_DELNEXTHOP);
	auto *nh = m.extra<nhmsg>();
	nh->nh_family = AF_INET;
	mnl_attr_put_u32(m.nlh(), NHA_ID, id);
	if (blackhole)
		mnl_attr_put(m.nlh(), NHA_BLACKHOLE, 0, nullptr);
	return m.bytes();
}

// One FPM frame around the concatenated messages.
inline std::vector<std::uint8_t> fpm_frame(const std::vector<std::vector<std::uint8_t>> &msgs,
					   std::uint8_t version = 1, std::uint8_t type = 1)
{
	std::vector<std::uint8_t> f(4);
	for (const auto &m : msgs)
		f.insert(f.end(), m.begin(), m.end());
	f[0] = version;
	f[1] = type;
	f[2] = static_cast<std::uint8_t>(f.size() >> 8);
	f[3] = static_cast<std::uint8_t>(f.size());
	return f;
}

} // namespace evpnmon::test
