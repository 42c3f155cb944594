#include "daemon/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace evpnmon::consumer {

namespace {
std::system_error sys_error(const char *what)
{
	return std::system_error(errno, std::generic_category(), what);
}
} // namespace

EventLoop::EventLoop() : epoll_(::epoll_create1(EPOLL_CLOEXEC))
{
	if (!epoll_)
		throw sys_error("epoll_create1");
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0)
		throw sys_error("sigprocmask");
	signals_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
	if (!signals_)
		throw sys_error("signalfd");
	std::signal(SIGPIPE, SIG_IGN);
	add(signals_.get(), EPOLLIN, [this](std::uint32_t) {
		signalfd_siginfo si;
		while (::read(signals_.get(), &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo != SIGUSR1)
				running_ = false;
			else if (on_usr1_)
				on_usr1_();
		}
	});
}

void EventLoop::add(int fd, std::uint32_t events, Callback callback)
{
	epoll_event ev{};
	ev.events = events;
	ev.data.fd = fd;
	if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
		throw sys_error("epoll_ctl add");
	callbacks_[fd] = std::move(callback);
}

void EventLoop::remove(int fd)
{
	::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
	callbacks_.erase(fd);
}

void EventLoop::set_tick(std::chrono::milliseconds period, std::function<void()> tick)
{
	timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
	if (!timer_)
		throw sys_error("timerfd_create");
	itimerspec its{};
	its.it_interval.tv_sec = period.count() / 1000;
	its.it_interval.tv_nsec = (period.count() % 1000) * 1000000;
	its.it_value = its.it_interval;
	if (::timerfd_settime(timer_.get(), 0, &its, nullptr) < 0)
		throw sys_error("timerfd_settime");
	tick_ = std::move(tick);
	add(timer_.get(), EPOLLIN, [this](std::uint32_t) {
		std::uint64_t expirations;
		[[maybe_unused]] auto n = ::read(timer_.get(), &expirations, sizeof(expirations));
		if (tick_)
			tick_();
	});
}

template <typename F> void EventLoop::guarded(F &&fn)
{
	// One failing input must not take the daemon down: report and go on.
	try {
		fn();
	} catch (const std::exception &e) {
		++errors_;
		if (on_error_)
			on_error_(e);
	}
}

void EventLoop::run()
{
	running_ = true;
	std::vector<epoll_event> events(64);
	while (running_) {
		const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw sys_error("epoll_wait");
		}
		for (int i = 0; i < n; ++i) {
			auto it = callbacks_.find(events[static_cast<std::size_t>(i)].data.fd);
			if (it == callbacks_.end())
				continue; // removed by an earlier callback of this batch
			auto cb = it->second; // the callback may remove itself
			guarded([&] { cb(events[static_cast<std::size_t>(i)].events); });
		}
		if (idle_)
			guarded(idle_);
	}
}

} // namespace evpnmon::consumer
