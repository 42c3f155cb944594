// Single-threaded epoll loop: file descriptors with callbacks, one periodic
// tick (timerfd) and SIGINT/SIGTERM (signalfd) to stop.
#pragma once

#include <evpnmon/unique_fd.hpp>

#include <chrono>
#include <functional>
#include <exception>
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
	// SIGUSR1 (an operator's request, e.g. "audit now"); ignored when unset.
	void set_usr1(std::function<void()> fn) { on_usr1_ = std::move(fn); }
	void run();
	void stop() { running_ = false; }
	// Exceptions escaping a callback are passed here and counted.
	void set_error_handler(std::function<void(const std::exception &)> h) { on_error_ = std::move(h); }
	std::uint64_t errors() const { return errors_; }

private:
	UniqueFd epoll_;
	UniqueFd timer_;
	UniqueFd signals_;
	std::map<int, Callback> callbacks_;
	std::function<void()> tick_;
	std::function<void()> idle_;
	std::function<void()> on_usr1_;
	bool running_ = false;
	std::function<void(const std::exception &)> on_error_;
	std::uint64_t errors_ = 0;

	template <typename F> void guarded(F &&fn);
};

} // namespace evpnmon::consumer
