// fpm-consumer core: when the periodic audit runs.
//
// The audit re-reads the dataplane and the local MACs and makes a full pass
// (decide() over every session, compared with the incremental state, and a
// whole diff). At 100,000 sessions that is about half a second of the event
// loop, so it runs in steps (Engine::reread(), ask_check(), ask_repair()),
// each a part of it, with the events that arrived handled in between. Its
// rules:
//  * every `interval` (--audit-interval) at most;
//  * spaced by its cost: the next starts at least cost * 100 / max_load
//    (--audit-max-load, percent) after the start of the last, at most a
//    day later; the audits then hold the loop at most that share of the
//    time, and delay about that share of events;
//  * a quiet moment: a due audit waits while the consumer is busy (work
//    pending, or entries changed within `quiet`), for at most one more
//    interval, so that it does not add a full pass to a convergence;
//  * asked (SIGUSR1): at the next look, busy or not; asked during an
//    audit, right after it;
//  * the next step of a running audit waits while work is pending, for at
//    most `step_patience` after the last step ended: an event waits for one
//    step, and a busy loop still finishes the audit;
//  * an audit whose full pass has not run one interval after it started
//    (it failed) is not waited for.
//
// Pure: time is passed in, so the rules are tested without any clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

namespace evpnmon::consumer {

class AuditSchedule {
public:
	using Clock = std::chrono::steady_clock;
	using Duration = Clock::duration;
	using TimePoint = Clock::time_point;

	struct Config {
		Duration interval = std::chrono::seconds(60);
		double max_load = 0.5; // percent; 0: `interval` alone
		Duration quiet = std::chrono::seconds(1);
		Duration step_patience = std::chrono::seconds(1);
	};

	AuditSchedule(Config config, TimePoint now) : config_(config), next_(now + config.interval) {}

	// The first audit one interval after `now` (the end of a start-up).
	void restart(TimePoint now) { next_ = now + config_.interval; }

	// Should an audit start at `now`? `busy`: work is pending, or entries
	// changed within `quiet` (changed()).
	bool due(TimePoint now, bool busy)
	{
		if (start_ && !done_ && now - *start_ > config_.interval)
			done_ = true; // its full pass never ran
		if (start_ && !done_)
			return false;
		if (asked_)
			return true;
		if (now < next_)
			return false;
		return !busy || now - next_ >= config_.interval;
	}
	// The audit begins at `now`.
	void started(TimePoint now)
	{
		start_ = now;
		done_ = false;
		asked_ = false;
		next_ = now + config_.interval; // stands if its full pass never runs
	}
	bool in_progress() const { return start_ && !done_; }
	// Between two steps of the audit in progress: may the next run at
	// `now`? `work_pending`: events wait to be reconciled.
	bool step_due(TimePoint now, bool work_pending) const
	{
		return !work_pending || now - step_end_ >= config_.step_patience;
	}
	void step_ended(TimePoint now) { step_end_ = now; }
	// Its last step has run; `cost`: all its steps took (re-reads and full
	// pass).
	// Returns the time from its start to the next one.
	Duration done(Duration cost)
	{
		done_ = true;
		auto gap = config_.interval;
		if (config_.max_load > 0) {
			const double need_s = std::chrono::duration<double>(cost).count() * 100.0 /
					      config_.max_load;
			gap = std::max(gap, std::chrono::duration_cast<Duration>(std::chrono::duration<double>(
						    std::min(need_s, 86400.0))));
		}
		next_ = *start_ + gap;
		return gap;
	}
	// SIGUSR1.
	void ask() { asked_ = true; }
	// Entries changed at `now` (a reconcile that installed, replaced or
	// removed some).
	void changed(TimePoint now) { last_change_ = now; }
	bool busy(TimePoint now, bool work_pending) const
	{
		return work_pending || (last_change_ && now - *last_change_ < config_.quiet);
	}
	TimePoint next() const { return next_; }
	const Config &config() const { return config_; }

private:
	Config config_;
	TimePoint next_;
	std::optional<TimePoint> start_;
	bool done_ = true;
	bool asked_ = false;
	std::optional<TimePoint> last_change_;
	TimePoint step_end_{};
};

} // namespace evpnmon::consumer
