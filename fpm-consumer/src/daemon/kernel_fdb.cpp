#include "daemon/kernel_fdb.hpp"

#include "daemon/log.hpp"

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

namespace evpnmon::consumer {

void KernelFdb::Closer::operator()(mnl_socket *s) const
{
	mnl_socket_close(s);
}

KernelFdb::KernelFdb(EventLoop &loop, fpm::UpdateSink &sink, Hooks hooks)
    : loop_(loop), sink_(sink), hooks_(std::move(hooks))
{
	sock_.reset(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK));
	if (!sock_)
		throw std::system_error(errno, std::generic_category(), "netlink socket");
	if (mnl_socket_bind(sock_.get(), 1u << (RTNLGRP_NEIGH - 1), MNL_SOCKET_AUTOPID) < 0)
		throw std::system_error(errno, std::generic_category(), "netlink bind RTNLGRP_NEIGH");
	int size = 4 << 20;
	::setsockopt(mnl_socket_get_fd(sock_.get()), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	loop_.add(mnl_socket_get_fd(sock_.get()), EPOLLIN, [this](std::uint32_t) { read_some(); });
}

KernelFdb::~KernelFdb()
{
	loop_.remove(mnl_socket_get_fd(sock_.get()));
}

void KernelFdb::request_dump()
{
	std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
	nlmsghdr *nlh = mnl_nlmsg_put_header(buf.data());
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = dump_seq_ = next_seq_++;
	auto *nd = static_cast<ndmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
	nd->ndm_family = AF_BRIDGE;
	if (hooks_.dump_started)
		hooks_.dump_started();
	if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0) {
		LOG_WARN("kernel FDB: dump request failed: " << std::strerror(errno));
		dump_seq_ = 0;
	}
}

void KernelFdb::read_some()
{
	std::vector<std::uint8_t> buf(1 << 16);
	for (int round = 0; round < 64; ++round) {
		const ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ENOBUFS) {
				// Events were lost: start over with a fresh dump.
				++overruns_;
				LOG_WARN("kernel FDB: netlink overrun, resyncing");
				request_dump();
				continue;
			}
			LOG_WARN("kernel FDB: recv: " << std::strerror(errno));
			return;
		}
		bool done = false;
		// Spot the end of our dump before decoding the datagram.
		int left = static_cast<int>(n);
		for (auto *h = reinterpret_cast<const nlmsghdr *>(buf.data());
		     left >= static_cast<int>(sizeof(nlmsghdr)) &&
		     h->nlmsg_len <= static_cast<std::uint32_t>(left) && mnl_nlmsg_ok(h, left);
		     h = mnl_nlmsg_next(h, &left))
			if (dump_seq_ && h->nlmsg_seq == dump_seq_ &&
			    (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR))
				done = true;
		fpm::decode_netlink({buf.data(), static_cast<std::size_t>(n)}, sink_, counters_);
		if (done) {
			dump_seq_ = 0;
			if (hooks_.dump_done)
				hooks_.dump_done();
		}
	}
}

} // namespace evpnmon::consumer
