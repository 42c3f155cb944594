// Unix stream socket serving the daemon's state as JSON: a client connects,
// writes one line ("state", "status" or "history [N]"), reads the document
// until EOF.
#pragma once

#include "daemon/event_loop.hpp"
#include <evpnmon/unique_fd.hpp>

#include <functional>
#include <map>
#include <string>

namespace evpnmon::consumer {

class StateServer {
public:
	// Gets the request line (without its newline), returns the answer.
	using Provider = std::function<std::string(const std::string &request)>;
	StateServer(EventLoop &loop, std::string path, Provider provider);
	~StateServer();

private:
	struct Client {
		UniqueFd fd;
		std::string in, out;
		std::size_t sent = 0;
	};
	void accept_one();
	void on_client(int fd, std::uint32_t events);
	void close_client(int fd);

	EventLoop &loop_;
	std::string path_;
	Provider provider_;
	UniqueFd listen_;
	std::map<int, Client> clients_;
};

} // namespace evpnmon::consumer
