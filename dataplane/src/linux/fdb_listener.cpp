#include "fdb_listener.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/neighbour.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <system_error>
#include <vector>

namespace evpnmon::dp::linux_dp {

namespace {

struct ParseCtx {
	const FdbListener::PortVni *port_vni;
	const FdbListener::Sink *sink;
	const FdbListener::LinkSink *links;
};

template <typename F> void for_each_attr(const void *start, const void *end, F f)
{
	const char *tail = static_cast<const char *>(end);
	for (auto *a = static_cast<const nlattr *>(start);
	     mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char *>(a)));
	     a = mnl_attr_next(a))
		f(a);
}

void on_link(const nlmsghdr *nlh, const FdbListener::LinkSink &sink)
{
	const auto *ifi = static_cast<const ifinfomsg *>(mnl_nlmsg_get_payload(nlh));
	FdbListener::LinkEvent ev;
	ev.deleted = nlh->nlmsg_type == RTM_DELLINK;
	ev.ifindex = static_cast<std::uint32_t>(ifi->ifi_index);
	for_each_attr(mnl_nlmsg_get_payload_offset(nlh, sizeof(ifinfomsg)),
		      mnl_nlmsg_get_payload_tail(nlh), [&](const nlattr *a) {
			      switch (mnl_attr_get_type(a)) {
			      case IFLA_MASTER:
				      ev.master = mnl_attr_get_u32(a);
				      break;
			      case IFLA_IFNAME:
				      ev.name = mnl_attr_get_str(a);
				      break;
			      case IFLA_LINKINFO: {
				      auto *p = static_cast<const char *>(mnl_attr_get_payload(a));
				      for_each_attr(p, p + mnl_attr_get_payload_len(a),
						    [&](const nlattr *i) {
							    if (mnl_attr_get_type(i) == IFLA_INFO_KIND)
								    ev.kind = mnl_attr_get_str(i);
						    });
				      break;
			      }
			      default:
				      break;
			      }
		      });
	sink(ev);
}

int on_msg(const nlmsghdr *nlh, void *data)
{
	auto *ctx = static_cast<ParseCtx *>(data);
	if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK) {
		if (ctx->links && *ctx->links)
			on_link(nlh, *ctx->links);
		return MNL_CB_OK;
	}
	if (nlh->nlmsg_type != RTM_NEWNEIGH && nlh->nlmsg_type != RTM_DELNEIGH)
		return MNL_CB_OK;
	const auto *ndm = static_cast<const ndmsg *>(mnl_nlmsg_get_payload(nlh));
	if (ndm->ndm_family != AF_BRIDGE)
		return MNL_CB_OK;
	if (ndm->ndm_state & NUD_PERMANENT) // the port's own address
		return MNL_CB_OK;
	// NTF_EXT_LEARNED is no criterion: `bridge fdb replace ... static` of
	// a MAC zebra had installed as remote keeps the flag on the local port
	// (a host moving here). Local = on a host-facing port, no VTEP.
	if (ndm->ndm_flags & NTF_SELF) // a device's own table, not the bridge's
		return MNL_CB_OK;
	const auto ifindex = static_cast<std::uint32_t>(ndm->ndm_ifindex);
	auto vni = (*ctx->port_vni)(ifindex);
	if (!vni)
		return MNL_CB_OK;
	MacEvent ev;
	ev.kind = nlh->nlmsg_type == RTM_NEWNEIGH ? MacEvent::Kind::Learned
						  : MacEvent::Kind::Removed;
	ev.ifindex = ifindex;
	ev.vni = *vni;
	bool have_mac = false;
	bool remote = false;
	for_each_attr(mnl_nlmsg_get_payload_offset(nlh, sizeof(ndmsg)),
		      mnl_nlmsg_get_payload_tail(nlh), [&](const nlattr *a) {
		switch (mnl_attr_get_type(a)) {
		case NDA_LLADDR:
			if (mnl_attr_get_payload_len(a) == 6) {
				const auto *p = static_cast<const std::uint8_t *>(
				    mnl_attr_get_payload(a));
				std::copy_n(p, 6, ev.mac.begin());
				have_mac = true;
			}
			break;
		case NDA_VLAN:
			ev.vlan = mnl_attr_get_u16(a);
			break;
		case NDA_DST: // has a remote VTEP: not local
			remote = true;
			break;
		default:
			break;
		}
	});
	if (have_mac && !remote)
		(*ctx->sink)(ev);
	return MNL_CB_OK;
}

[[noreturn]] void fail(const char *what)
{
	throw std::system_error(errno, std::generic_category(),
				std::string("dataplane/linux: ") + what);
}

} // namespace

void FdbListener::Del::operator()(mnl_socket *s) const { mnl_socket_close(s); }

FdbListener::FdbListener(PortVni port_vni) : port_vni_(std::move(port_vni))
{
	sock_.reset(mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC));
	if (!sock_)
		fail("netlink socket");
	if (mnl_socket_bind(sock_.get(),
			    (1U << (RTNLGRP_NEIGH - 1)) | (1U << (RTNLGRP_LINK - 1)),
			    MNL_SOCKET_AUTOPID) < 0)
		fail("bind RTNLGRP_NEIGH/LINK");
	// Room for bursts (a VM migration wave, a flapping port): 4 MiB, or
	// whatever rmem_max allows without CAP_NET_ADMIN.
	int size = 4 << 20;
	if (::setsockopt(fd(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
		::setsockopt(fd(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

FdbListener::~FdbListener() = default;

int FdbListener::fd() const { return mnl_socket_get_fd(sock_.get()); }

void FdbListener::process(const Sink &sink, const LinkSink &links,
			  const std::function<void()> &relist)
{
	std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
	ParseCtx ctx{&port_vni_, &sink, &links};
	bool overrun = false;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
		if (n < 0 && errno == ENOBUFS) {
			overrun = true; // notifications were lost
			continue;
		}
		if (n <= 0)
			break; // EAGAIN: nothing more pending
		mnl_cb_run(buf.data(), static_cast<std::size_t>(n), 0, 0, on_msg, &ctx);
	}
	if (!overrun)
		return;
	if (relist)
		relist();
	dump(sink); // re-announce every current MAC (removals may be lost)
}

void FdbListener::dump(const Sink &sink)
{
	std::unique_ptr<mnl_socket, Del> s(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
	if (!s || mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0)
		fail("netlink dump socket");
	std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
	nlmsghdr *nlh = mnl_nlmsg_put_header(buf.data());
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	const auto seq = static_cast<unsigned>(std::time(nullptr));
	nlh->nlmsg_seq = seq;
	auto *ndm = static_cast<ndmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
	ndm->ndm_family = AF_BRIDGE;
	if (mnl_socket_sendto(s.get(), nlh, nlh->nlmsg_len) < 0)
		fail("FDB dump request");
	const unsigned portid = mnl_socket_get_portid(s.get());
	ParseCtx ctx{&port_vni_, &sink, nullptr};
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s.get(), buf.data(), buf.size());
		if (n <= 0)
			fail("FDB dump");
		int r = mnl_cb_run(buf.data(), static_cast<std::size_t>(n), seq, portid,
				   on_msg, &ctx);
		if (r <= MNL_CB_STOP)
			break;
	}
}

} // namespace evpnmon::dp::linux_dp
