// fpm-consumer core: pacing of the reconciliation under bursts.
//
// A reconcile is a full decision over every session (about 7 ms with 10,000
// sessions). Running one after every epoll wakeup lets a burst of small
// events (bgpd publishing 10,000 sessions in 10 ms slices) cost a full pass
// per slice. The pacer bounds the duty cycle: after a reconcile that took
// d, the next one may start only gap(d) = clamp(4 d, 1 ms, 50 ms) after it
// ended. A single event after a quiet period is reconciled at once (its
// latency is unchanged); under a burst, reconciles run at most every gap,
// i.e. at most 1/5 of the time, and a deferred one runs at its deadline
// even if nothing else happens (the daemon arms a timer for it).
//
// A reconcile that ran a step of the audit (or a part of one), and the
// next one, impose the least gap: the audit has its own spacing (core/audit_schedule.hpp), and
// the events that piled up behind its step are no burst to pace. Paced,
// each step would hold back up to 50 ms of events more, and then a cascade
// of shorter gaps (modelled at 1,000 moves/s and 100,000 sessions, audits
// spaced: about 1 % of the moves over 5 ms instead of 0.54 %).
//
// Pure: time is passed in, so the logic is tested without any clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

namespace evpnmon::consumer {

class ReconcilePacer {
public:
	using Clock = std::chrono::steady_clock;
	using Duration = Clock::duration;
	using TimePoint = Clock::time_point;

	static constexpr Duration kMinGap = std::chrono::milliseconds(1);
	static constexpr Duration kMaxGap = std::chrono::milliseconds(50);
	static constexpr int kFactor = 4;

	// The pause a reconcile of duration `took` imposes after its end.
	static Duration gap(Duration took) { return std::clamp(took * kFactor, kMinGap, kMaxGap); }

	// Work is pending at `now`: nullopt = reconcile now; otherwise the time
	// at which the deferred reconcile is due.
	std::optional<TimePoint> defer_until(TimePoint now) const
	{
		if (!last_end_)
			return std::nullopt;
		const TimePoint due = *last_end_ + gap(last_took_);
		if (now >= due)
			return std::nullopt;
		return due;
	}

	// A reconcile ran from `start` to `end`.
	void ran(TimePoint start, TimePoint end)
	{
		last_end_ = end;
		last_took_ = end >= start && !backlog_ ? end - start : Duration::zero();
		backlog_ = false;
	}
	// A reconcile that ran a step of the audit ended at `end`.
	void ran_audit_step(TimePoint end)
	{
		last_end_ = end;
		last_took_ = Duration::zero();
		backlog_ = true;
	}

	Duration last_took() const { return last_took_; }

private:
	std::optional<TimePoint> last_end_;
	Duration last_took_{};
	bool backlog_ = false; // the next reconcile takes in what waited for an audit step
};

} // namespace evpnmon::consumer
