// Single-threaded epoll loop: file descriptors with callbacks, one periodic
// tick (timerfd) and SIGINT/SIGTERM (signalfd) to stop.
#pragma once

#include "daemon/unique_fd.hpp"

#include <chrono>
#include <functional>
#include <map>

namespace evpnmon::consumer {

class EventLoop {
public:
	using Callback = std::function<void(std::uint32_t events)>;

	EventLoop();
	void add(int fd, std::uint32_t events, Callback callback);
	void remove(int fd);
	void set_tick(std::chrono::milliseconds period, std::function<void()> tick);
	// Runs after each batch of ready events (coalesced reconciliation).
	void set_idle(std::function<void()> idle) { idle_ = std::move(idle); }
	void run();
	void stop() { running_ = false; }

private:
	UniqueFd epoll_;
	UniqueFd timer_;
	UniqueFd signals_;
	std::map<int, Callback> callbacks_;
	std::function<void()> tick_;
	std::function<void()> idle_;
	bool running_ = false;
};

} // namespace evpnmon::consumer
