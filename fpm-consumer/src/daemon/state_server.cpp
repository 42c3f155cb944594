#include "daemon/state_server.hpp"

#include "daemon/allocator.hpp"
#include "daemon/log.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace evpnmon::consumer {

StateServer::StateServer(EventLoop &loop, std::string path, Provider provider)
    : loop_(loop), path_(std::move(path)), provider_(std::move(provider))
{
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (path_.size() >= sizeof(addr.sun_path))
		throw std::invalid_argument("state socket path too long: " + path_);
	std::error_code ec;
	std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
	::unlink(path_.c_str());
	std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
	listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (!listen_ || ::bind(listen_.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0 ||
	    ::listen(listen_.get(), 8) < 0)
		throw std::system_error(errno, std::generic_category(), "state socket " + path_);
	::chmod(path_.c_str(), 0660);
	loop_.add(listen_.get(), EPOLLIN, [this](std::uint32_t) { accept_one(); });
}

StateServer::~StateServer()
{
	for (auto &[fd, c] : clients_)
		loop_.remove(fd);
	loop_.remove(listen_.get());
	::unlink(path_.c_str());
}

void StateServer::accept_one()
{
	UniqueFd fd(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
	if (!fd)
		return;
	const int raw = fd.get();
	clients_[raw].fd = std::move(fd);
	loop_.add(raw, EPOLLIN | EPOLLRDHUP, [this, raw](std::uint32_t ev) { on_client(raw, ev); });
}

void StateServer::close_client(int fd)
{
	loop_.remove(fd);
	// A state answer with 100,000 entries builds hundreds of MB of JSON
	// nodes: a leaf daemon should not stay at its peak after each
	// `evpnmon-ctl --json`. A small answer (a status poll, the counters)
	// freed too little to be worth a purge.
	constexpr std::size_t kLargeAnswer = 1 << 20;
	const auto it = clients_.find(fd);
	const bool large = it != clients_.end() && it->second.out.size() >= kLargeAnswer;
	clients_.erase(fd);
	if (large && clients_.empty()) {
		static bool warned = false;
		if (const int err = release_free_memory(); err != 0 && !warned) {
			warned = true;
			LOG_WARN("heap: returning freed memory after a state answer failed: "
				 << std::strerror(err) << " (not logged again)");
		}
	}
}

void StateServer::on_client(int fd, std::uint32_t events)
{
	auto it = clients_.find(fd);
	if (it == clients_.end())
		return;
	Client &c = it->second;
	if (c.out.empty()) {
		char buf[512];
		const ssize_t n = ::read(fd, buf, sizeof(buf));
		if (n <= 0 && !(n < 0 && errno == EAGAIN))
			return close_client(fd);
		if (n > 0)
			c.in.append(buf, static_cast<std::size_t>(n));
		if (c.in.size() > 4096)
			return close_client(fd);
		const auto eol = c.in.find('\n');
		if (eol == std::string::npos)
			return;
		c.out = provider_(c.in.substr(0, eol));
		c.out.push_back('\n');
		loop_.remove(fd);
		loop_.add(fd, EPOLLOUT, [this, fd](std::uint32_t e) { on_client(fd, e); });
		return;
	}
	if (events & (EPOLLERR | EPOLLHUP))
		return close_client(fd);
	while (c.sent < c.out.size()) {
		const ssize_t n = ::send(fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN)
				return;
			return close_client(fd);
		}
		c.sent += static_cast<std::size_t>(n);
	}
	close_client(fd);
}

} // namespace evpnmon::consumer
