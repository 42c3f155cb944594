// Slots 1..limit-1 of a slot-indexed map (session profiles, ERSPAN
// destinations, servers), as the entry store hands them out. A slot whose
// last user is gone is retired and free again only after a grace time: a
// packet may still be reading what the slot held, and a copy in flight
// may carry the slot in its mark. Slot 0 means "none" and is never handed
// out. Free slots are reused before a never-used one is taken.
#pragma once

#include "evpnmon_shared.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

namespace evpnmon::dp::linux_dp {

class SlotPool {
public:
	using Clock = std::chrono::steady_clock;

	SlotPool(dp_u32 limit, Clock::duration grace) : limit_(limit), grace_(grace) {}

	// A free slot, else the lowest never used; nullopt when neither is
	// left (retired slots are not: reap() first).
	std::optional<dp_u32> take()
	{
		if (!free_.empty()) {
			const dp_u32 slot = free_.back();
			free_.pop_back();
			return slot;
		}
		if (next_ < limit_)
			return next_++;
		return std::nullopt;
	}
	// A slot from take() that was not used (its write failed): free now.
	void put_back(dp_u32 slot) { free_.push_back(slot); }
	// Its last user is gone: free once the grace has passed.
	void retire(dp_u32 slot) { retired_.emplace_back(slot, Clock::now()); }
	// The retired slots past their grace (all: every one) become free.
	// `release(slot)` runs first and may refuse (false): the slot stays
	// retired and is tried again at the next reap.
	template <class Release>
	void reap(bool all, Release release)
	{
		const auto now = Clock::now();
		std::erase_if(retired_, [&](const auto &r) {
			if (!all && now - r.second < grace_)
				return false;
			if (!release(r.first))
				return false;
			free_.push_back(r.first);
			return true;
		});
	}
	void reap(bool all = false)
	{
		reap(all, [](dp_u32) { return true; });
	}
	// Nothing free, nothing retired, nothing never used.
	bool exhausted() const { return free_.empty() && retired_.empty() && next_ >= limit_; }

	// After a restart: the slots below `highest_used + 1` are known;
	// each one `owned(slot)` denies is retired (a packet of the previous
	// run may still read it).
	void adopt_up_to(dp_u32 highest_used) { next_ = std::max(next_, highest_used + 1); }
	template <class Owned>
	void retire_unowned(Owned owned)
	{
		for (dp_u32 i = 1; i < next_; ++i)
			if (!owned(i))
				retire(i);
	}
	// The lowest slot never handed out (slots from here on are unused).
	dp_u32 next() const { return next_; }

private:
	dp_u32 limit_;
	Clock::duration grace_;
	dp_u32 next_ = 1;
	std::vector<dp_u32> free_;
	std::vector<std::pair<dp_u32, Clock::time_point>> retired_;
};

} // namespace evpnmon::dp::linux_dp
