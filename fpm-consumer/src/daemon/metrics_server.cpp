#include "daemon/metrics_server.hpp"

#include "daemon/http_request.hpp"
#include "daemon/log.hpp"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace evpnmon::consumer {

namespace {

constexpr int kAcceptsPerWakeup = 64;
constexpr std::chrono::milliseconds kTimerPeriod{250};

std::system_error sys_error(const std::string &what)
{
	return std::system_error(errno, std::generic_category(), what);
}

} // namespace

MetricsServer::MetricsServer(EventLoop &loop, const ListenAddress &address, Provider provider,
			     Limits limits)
    : loop_(loop), provider_(std::move(provider)), limits_(limits), bound_(address)
{
	sockaddr_storage ss{};
	socklen_t len = 0;
	if (address.v6) {
		auto *s6 = reinterpret_cast<sockaddr_in6 *>(&ss);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(address.port);
		std::memcpy(&s6->sin6_addr, address.addr.data(), 16);
		len = sizeof(sockaddr_in6);
	} else {
		auto *s4 = reinterpret_cast<sockaddr_in *>(&ss);
		s4->sin_family = AF_INET;
		s4->sin_port = htons(address.port);
		std::memcpy(&s4->sin_addr, address.addr.data(), 4);
		len = sizeof(sockaddr_in);
	}
	listen_.reset(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (!listen_)
		throw sys_error("metrics socket");
	int one = 1;
	::setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (::bind(listen_.get(), reinterpret_cast<sockaddr *>(&ss), len) < 0)
		throw sys_error("metrics bind " + address.to_string());
	if (::listen(listen_.get(), 64) < 0)
		throw sys_error("metrics listen");
	socklen_t got = sizeof(ss);
	if (::getsockname(listen_.get(), reinterpret_cast<sockaddr *>(&ss), &got) == 0)
		bound_.port = ntohs(address.v6 ? reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port
					       : reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
	timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
	if (!timer_)
		throw sys_error("metrics timerfd");
	loop_.add(timer_.get(), EPOLLIN, [this](std::uint32_t) { on_timer(); });
	loop_.add(listen_.get(), EPOLLIN, [this](std::uint32_t) { accept_some(); });
	LOG_INFO("metrics: listening on " << bound_.to_string() << " (GET /metrics)");
}

MetricsServer::~MetricsServer()
{
	for (auto &[fd, c] : clients_)
		loop_.remove(fd);
	if (!accept_paused_)
		loop_.remove(listen_.get());
	loop_.remove(timer_.get());
}

void MetricsServer::accept_some()
{
	for (int i = 0; i < kAcceptsPerWakeup; ++i) {
		UniqueFd fd(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
		if (!fd) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED)
				break;
			// EMFILE, ENFILE, ENOBUFS...: the socket stays readable; stop
			// polling it for a while instead of spinning.
			LOG_WARN("metrics: accept: " << std::strerror(errno) << " (pausing accepts)");
			pause_accepting();
			break;
		}
		++counters_.connections;
		if (clients_.size() >= limits_.max_clients) {
			// Evict the oldest connection still waiting for its request
			// (a slow or idle client); if every slot is sending a
			// response, refuse the new one.
			auto oldest = clients_.end();
			for (auto it = clients_.begin(); it != clients_.end(); ++it)
				if (!it->second.writing &&
				    (oldest == clients_.end() || it->second.serial < oldest->second.serial))
					oldest = it;
			++counters_.over_limit;
			if (oldest == clients_.end())
				continue; // `fd` closes here
			close_client(oldest->first);
		}
		const int raw = fd.get();
		Client &c = clients_[raw];
		c.fd = std::move(fd);
		c.serial = next_serial_++;
		c.deadline = Clock::now() + limits_.request_timeout;
		loop_.add(raw, EPOLLIN | EPOLLRDHUP, [this, raw](std::uint32_t ev) { on_client(raw, ev); });
	}
	update_timer();
}

void MetricsServer::pause_accepting()
{
	if (accept_paused_)
		return;
	loop_.remove(listen_.get());
	accept_paused_ = true;
	update_timer();
}

void MetricsServer::close_client(int fd)
{
	loop_.remove(fd);
	clients_.erase(fd);
}

void MetricsServer::on_client(int fd, std::uint32_t)
{
	auto it = clients_.find(fd);
	if (it == clients_.end())
		return;
	if (it->second.writing)
		write_some(fd, it->second);
	else
		read_request(fd, it->second);
}

void MetricsServer::read_request(int fd, Client &c)
{
	bool eof = false;
	char buf[4096];
	while (c.in.size() <= limits_.max_request) {
		const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
		if (n > 0) {
			c.in.append(buf, static_cast<std::size_t>(n));
			continue;
		}
		if (n == 0) {
			eof = true;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (!c.in.empty())
			++counters_.bad_requests;
		return close_client(fd); // reset by the peer
	}
	http::Request req;
	switch (http::parse_request(c.in, limits_.max_request, req)) {
	case http::Parse::Complete:
		return respond(fd, c, http::route(req));
	case http::Parse::Malformed:
		return respond(fd, c, 400);
	case http::Parse::TooLarge:
		return respond(fd, c, 431);
	case http::Parse::Incomplete:
		if (eof) {
			if (!c.in.empty())
				++counters_.bad_requests; // truncated request
			close_client(fd);
		}
		return;
	}
}

void MetricsServer::respond(int fd, Client &c, int status)
{
	std::string body;
	if (status == 200) {
		try {
			body = provider_();
			++counters_.requests;
		} catch (const std::exception &e) {
			LOG_ERROR("metrics: rendering failed: " << e.what());
			status = 500;
		}
	} else {
		++counters_.bad_requests;
		LOG_DEBUG("metrics: request refused with " << status);
	}
	if (status != 200)
		body = std::to_string(status) + " " + http::reason_phrase(status) + "\n";
	c.out = http::response(status,
			       status == 200 ? http::kMetricsContentType
					     : std::string_view("text/plain; charset=utf-8"),
			       body);
	c.in.clear();
	c.in.shrink_to_fit();
	c.writing = true;
	c.deadline = Clock::now() + limits_.send_timeout;
	loop_.remove(fd);
	loop_.add(fd, EPOLLOUT, [this, fd](std::uint32_t ev) { on_client(fd, ev); });
	write_some(fd, c);
}

void MetricsServer::write_some(int fd, Client &c)
{
	while (c.sent < c.out.size()) {
		const ssize_t n = ::send(fd, c.out.data() + c.sent, c.out.size() - c.sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; // EPOLLOUT calls again
			return close_client(fd);
		}
		c.sent += static_cast<std::size_t>(n);
		c.deadline = Clock::now() + limits_.send_timeout;
	}
	// Done: half-close and drop what the client may still have sent (an
	// unread receive queue would turn the close into a reset that can cut
	// the response short on the client's side).
	::shutdown(fd, SHUT_WR);
	char buf[4096];
	for (int i = 0; i < 16 && ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; ++i) {
	}
	close_client(fd);
}

void MetricsServer::on_timer()
{
	std::uint64_t expirations;
	[[maybe_unused]] auto n = ::read(timer_.get(), &expirations, sizeof(expirations));
	const auto now = Clock::now();
	std::vector<int> expired;
	for (const auto &[fd, c] : clients_)
		if (now >= c.deadline)
			expired.push_back(fd);
	for (int fd : expired) {
		++counters_.timeouts;
		close_client(fd);
	}
	if (accept_paused_) {
		accept_paused_ = false;
		loop_.add(listen_.get(), EPOLLIN, [this](std::uint32_t) { accept_some(); });
	}
	update_timer();
}

void MetricsServer::update_timer()
{
	const bool want = !clients_.empty() || accept_paused_;
	if (want == timer_armed_)
		return;
	itimerspec its{};
	if (want) {
		its.it_interval.tv_nsec = std::chrono::nanoseconds(kTimerPeriod).count();
		its.it_value = its.it_interval;
	}
	if (::timerfd_settime(timer_.get(), 0, &its, nullptr) == 0)
		timer_armed_ = want;
}

} // namespace evpnmon::consumer
