// fpm-consumer core: large states destroyed on a thread of their own.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>

namespace evpnmon::consumer {

// The audit may free large states: what a decision left of the spare
// nodes it was made in (after many sessions went, up to a whole decision:
// at 100,000 sessions about 200,000 tree nodes), the keys changed while a
// check waited for its comparison. Destroying a whole decision held the
// daemon's loop for tens of milliseconds of its step (docs/benchmarks.md,
// "States freed beside the loop"). Handed here, a state leaves its owner
// in O(1) (a move) and is destroyed on this object's thread while the
// loop handles events, as Redis frees large values with UNLINK. The
// price: while it is destroyed the state still holds its memory, so the
// heap may peak one such state higher than when it was freed in place.
//
// What is handed over must own everything its destructor touches, or share
// it only through std::shared_ptr (atomic counts): no raw pointer it frees
// may be reached from the loop's thread.
//
// Without a thread (threaded = false: unit tests and benchmarks that
// measure the heap) release() destroys the value at once.
class BackgroundRelease {
public:
	explicit BackgroundRelease(bool threaded);
	// Destroys what is still queued, then joins.
	~BackgroundRelease();
	BackgroundRelease(const BackgroundRelease &) = delete;
	BackgroundRelease &operator=(const BackgroundRelease &) = delete;

	// A value moved in: never a copy, which would leave the loop's thread
	// to free the original after all.
	template <class T>
	void release(T &&value)
		requires(!std::is_reference_v<T> && !std::is_const_v<T>)
	{
		if (!threaded_)
			return (void)T(std::move(value));
		push(std::make_unique<Held<T>>(std::move(value)));
	}
	// Returns once everything released so far is destroyed.
	void drain();
	bool threaded() const { return threaded_; }

private:
	struct Garbage {
		virtual ~Garbage() = default;
	};
	template <class T>
	struct Held final : Garbage {
		explicit Held(T &&v) : value(std::move(v)) {}
		T value;
	};
	void push(std::unique_ptr<Garbage> garbage);
	void run();

	const bool threaded_;
	std::mutex mutex_;
	std::condition_variable wake_;
	std::condition_variable idle_;
	std::deque<std::unique_ptr<Garbage>> queue_;
	bool destroying_ = false;
	bool stop_ = false;
	std::thread thread_;
};

} // namespace evpnmon::consumer
