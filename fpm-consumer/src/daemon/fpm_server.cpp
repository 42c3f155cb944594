#include "daemon/fpm_server.hpp"

#include "daemon/log.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace evpnmon::consumer {

FpmServer::FpmServer(EventLoop &loop, const std::string &address, std::uint16_t port,
		     fpm::UpdateSink &sink, Hooks hooks)
    : loop_(loop), sink_(sink), hooks_(std::move(hooks)), address_(address)
{
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, address.c_str(), &sin.sin_addr) != 1)
		throw std::invalid_argument("FPM listen address '" + address + "' is not IPv4");
	listen_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (!listen_)
		throw std::system_error(errno, std::generic_category(), "FPM socket");
	int one = 1;
	::setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (::bind(listen_.get(), reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) < 0)
		throw std::system_error(errno, std::generic_category(),
					"FPM bind " + address + ":" + std::to_string(port));
	if (::listen(listen_.get(), 4) < 0)
		throw std::system_error(errno, std::generic_category(), "FPM listen");
	socklen_t len = sizeof(sin);
	::getsockname(listen_.get(), reinterpret_cast<sockaddr *>(&sin), &len);
	port_ = ntohs(sin.sin_port);
	loop_.add(listen_.get(), EPOLLIN, [this](std::uint32_t) { accept_one(); });
	LOG_INFO("FPM: listening on " << address_ << ":" << port_);
}

FpmServer::~FpmServer()
{
	if (conn_)
		loop_.remove(conn_.get());
	loop_.remove(listen_.get());
}

std::string FpmServer::listen_address() const
{
	return address_ + ":" + std::to_string(port_);
}

void FpmServer::accept_one()
{
	sockaddr_in peer{};
	socklen_t len = sizeof(peer);
	UniqueFd fd(::accept4(listen_.get(), reinterpret_cast<sockaddr *>(&peer), &len,
			      SOCK_CLOEXEC | SOCK_NONBLOCK));
	if (!fd)
		return;
	if (conn_)
		drop("replaced by a new connection");
	char buf[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof(buf));
	peer_ = std::string(buf) + ":" + std::to_string(ntohs(peer.sin_port));
	conn_ = std::move(fd);
	framer_.reset();
	++counters_.connections;
	loop_.add(conn_.get(), EPOLLIN | EPOLLRDHUP, [this](std::uint32_t) { read_some(); });
	LOG_INFO("FPM: zebra connected from " << peer_);
	if (hooks_.connected)
		hooks_.connected();
}

void FpmServer::drop(const char *why)
{
	LOG_WARN("FPM: connection " << peer_ << " closed: " << why);
	loop_.remove(conn_.get());
	conn_.reset();
	framer_.reset();
	++counters_.disconnections;
	if (hooks_.disconnected)
		hooks_.disconnected();
}

void FpmServer::read_some()
{
	std::uint8_t buf[65536];
	for (int round = 0; round < 16 && conn_; ++round) {
		const ssize_t n = ::read(conn_.get(), buf, sizeof(buf));
		if (n == 0)
			return drop("closed by zebra");
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			return drop(std::strerror(errno));
		}
		counters_.bytes += static_cast<std::uint64_t>(n);
		framer_.feed({buf, static_cast<std::size_t>(n)});
		fpm::Frame frame;
		fpm::Framer::Status st;
		while ((st = framer_.next(frame)) == fpm::Framer::Status::Frame) {
			++counters_.frames;
			if (frame.type != fpm::kTypeNetlink) {
				++counters_.non_netlink_frames;
				continue;
			}
			if (!fpm::decode_netlink(frame.payload, sink_, counters_.decode))
				++counters_.broken_frames;
		}
		if (st == fpm::Framer::Status::Lost) {
			++counters_.framing_resets;
			return drop("FPM framing lost (bad version or length)");
		}
	}
}

} // namespace evpnmon::consumer
