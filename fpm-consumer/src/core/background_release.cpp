#include "core/background_release.hpp"

#include <csignal>
#include <pthread.h>

namespace evpnmon::consumer {

BackgroundRelease::BackgroundRelease(bool threaded) : threaded_(threaded)
{
	if (threaded_)
		thread_ = std::thread([this] { run(); });
}

BackgroundRelease::~BackgroundRelease()
{
	if (!threaded_)
		return;
	{
		std::lock_guard lock(mutex_);
		stop_ = true;
	}
	wake_.notify_one();
	thread_.join();
}

void BackgroundRelease::push(std::unique_ptr<Garbage> garbage)
{
	{
		std::lock_guard lock(mutex_);
		queue_.push_back(std::move(garbage));
	}
	wake_.notify_one();
}

void BackgroundRelease::drain()
{
	if (!threaded_)
		return;
	std::unique_lock lock(mutex_);
	idle_.wait(lock, [this] { return queue_.empty() && !destroying_; });
}

void BackgroundRelease::run()
{
	// Signals are the loop's (its signalfd): never delivered here, whatever
	// the mask of the thread that made this object.
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, nullptr);
	std::unique_lock lock(mutex_);
	for (;;) {
		wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
		if (queue_.empty())
			return; // stopped, and nothing left
		auto garbage = std::move(queue_.front());
		queue_.pop_front();
		destroying_ = true;
		lock.unlock();
		garbage.reset();
		lock.lock();
		destroying_ = false;
		if (queue_.empty())
			idle_.notify_all();
	}
}

} // namespace evpnmon::consumer
