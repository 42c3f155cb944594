// The metrics endpoint: a minimal HTTP/1.x server in the daemon's epoll loop
// (non-blocking, one request per connection). GET /metrics gets the
// Prometheus text (from the provider), anything else a 4xx; the connection
// is closed after the response. Bounded: request head size, connection
// count (a new connection evicts the oldest one still waiting for its
// request), time to send the request and to take the response. A bad or
// slow client is closed and counted; it never blocks the loop.
#pragma once

#include "daemon/event_loop.hpp"
#include "daemon/listen_address.hpp"
#include <evpnmon/unique_fd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace evpnmon::consumer {

struct MetricsServerCounters {
	std::uint64_t connections = 0;  // accepted
	std::uint64_t requests = 0;     // answered 200
	std::uint64_t bad_requests = 0; // malformed, oversized, truncated, not GET, other path
	std::uint64_t timeouts = 0;     // request or response too slow
	std::uint64_t over_limit = 0;   // closed because of the connection limit
};

class MetricsServer {
public:
	using Provider = std::function<std::string()>; // body of GET /metrics
	using Clock = std::chrono::steady_clock;
	struct Limits {
		std::size_t max_request = 8192; // request line + headers
		std::size_t max_clients = 16;
		std::chrono::milliseconds request_timeout{5000}; // accept -> complete request head
		std::chrono::milliseconds send_timeout{10000};   // without progress sending the response
	};

	MetricsServer(EventLoop &loop, const ListenAddress &address, Provider provider,
		      Limits limits);
	MetricsServer(EventLoop &loop, const ListenAddress &address, Provider provider)
	    : MetricsServer(loop, address, std::move(provider), Limits{})
	{
	}
	~MetricsServer();
	MetricsServer(const MetricsServer &) = delete;
	MetricsServer &operator=(const MetricsServer &) = delete;

	std::string listen_address() const { return bound_.to_string(); } // actual port
	const MetricsServerCounters &counters() const { return counters_; }
	std::size_t clients() const { return clients_.size(); }

private:
	struct Client {
		UniqueFd fd;
		std::string in, out;
		std::size_t sent = 0;
		bool writing = false;
		Clock::time_point deadline;
		std::uint64_t serial = 0; // accept order
	};
	void accept_some();
	void on_client(int fd, std::uint32_t events);
	void read_request(int fd, Client &c);
	void respond(int fd, Client &c, int status);
	void write_some(int fd, Client &c);
	void close_client(int fd);
	void on_timer();
	void update_timer();
	void pause_accepting();

	EventLoop &loop_;
	Provider provider_;
	Limits limits_;
	ListenAddress bound_;
	UniqueFd listen_;
	UniqueFd timer_;
	bool timer_armed_ = false;
	bool accept_paused_ = false;
	std::map<int, Client> clients_;
	std::uint64_t next_serial_ = 0;
	MetricsServerCounters counters_;
};

} // namespace evpnmon::consumer
