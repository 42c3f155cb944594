// States handed to BackgroundRelease are destroyed on its thread, after
// release() has returned, and all of them by drain() or its destruction.
#include "core/background_release.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <string>
#include <thread>

using evpnmon::consumer::BackgroundRelease;

namespace {

// Counts its destructions and says on which thread the last one ran.
struct Tracked {
	std::atomic<int> *destroyed;
	std::atomic<std::thread::id> *where;
	explicit Tracked(std::atomic<int> &d, std::atomic<std::thread::id> &w)
	    : destroyed(&d), where(&w)
	{
	}
	Tracked(Tracked &&o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)), where(o.where) {}
	~Tracked()
	{
		if (!destroyed)
			return; // moved from
		where->store(std::this_thread::get_id());
		destroyed->fetch_add(1);
	}
};

// Its destructor waits until the test lets it finish, or gives up after
// 10 s (a releaser that destroys on the caller's thread would otherwise
// hang the test instead of failing it).
struct Blocking {
	std::shared_future<void> go;
	std::atomic<bool> *done;
	Blocking(std::shared_future<void> g, std::atomic<bool> &d) : go(std::move(g)), done(&d) {}
	Blocking(Blocking &&o) noexcept : go(std::move(o.go)), done(std::exchange(o.done, nullptr)) {}
	~Blocking()
	{
		if (!done)
			return;
		go.wait_for(std::chrono::seconds(10));
		done->store(true);
	}
};

} // namespace

TEST_CASE("without a thread, release() destroys the value at once, on the caller's thread")
{
	std::atomic<int> destroyed{0};
	std::atomic<std::thread::id> where{};
	BackgroundRelease release(false);
	release.release(Tracked(destroyed, where));
	CHECK(destroyed == 1);
	CHECK(where.load() == std::this_thread::get_id());
}

TEST_CASE("with a thread, a value is destroyed on it after release() returned")
{
	std::promise<void> go;
	std::atomic<bool> done{false};
	BackgroundRelease release(true);
	release.release(Blocking(go.get_future().share(), done));
	// release() returned while the destructor still waits: the caller
	// never ran it.
	CHECK(!done);
	go.set_value();
	release.drain();
	CHECK(done);

	std::atomic<int> destroyed{0};
	std::atomic<std::thread::id> where{};
	release.release(Tracked(destroyed, where));
	release.drain();
	CHECK(destroyed == 1);
	CHECK(where.load() != std::this_thread::get_id());
}

TEST_CASE("a released map leaves its owner empty; drain() returns once all are destroyed")
{
	std::atomic<int> destroyed{0};
	std::atomic<std::thread::id> where{};
	BackgroundRelease release(true);
	for (int round = 0; round < 50; ++round) {
		std::map<int, Tracked> state;
		for (int i = 0; i < 100; ++i)
			state.emplace(i, Tracked(destroyed, where));
		release.release(std::move(state));
		CHECK(state.empty()); // moved from: what is checked
	}
	release.drain();
	CHECK(destroyed == 5000);
}

TEST_CASE("destroying the releaser destroys what it still holds")
{
	std::atomic<int> destroyed{0};
	std::atomic<std::thread::id> where{};
	std::promise<void> go;
	std::atomic<bool> done{false};
	{
		BackgroundRelease release(true);
		// The first holds the thread; the others wait in the queue.
		release.release(Blocking(go.get_future().share(), done));
		for (int i = 0; i < 100; ++i)
			release.release(Tracked(destroyed, where));
		CHECK(destroyed == 0);
		go.set_value();
	}
	CHECK(done);
	CHECK(destroyed == 100);
	// by its thread, not by the queue's own destruction on this one
	CHECK(where.load() != std::this_thread::get_id());
}
