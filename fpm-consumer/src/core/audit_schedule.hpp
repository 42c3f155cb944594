// fpm-consumer core: when the periodic audit runs.
//
// The audit re-reads the dataplane and the local MACs and makes a full pass
// (decide() over every session, compared with the incremental state, and a
// whole diff). At 100,000 sessions that is about 0.3 s of the event loop,
// so it runs in steps (Step), each a part of it, with the events that
// arrived handled in between: an event waits for one step at most. Its
// rules:
//  * every `interval` (--audit-interval) at most;
//  * spaced by its cost: the next starts at least cost * 100 / max_load
//    (--audit-max-load, percent) after the start of the last, at most a
//    day later; the audits then hold the loop at most that share of the
//    time, and delay about that share of events;
//  * a quiet moment: a due audit waits while the consumer is busy (work
//    pending, or entries changed within `quiet`), for at most one more
//    interval, so that it does not add an audit to a convergence;
//  * asked (SIGUSR1): at the next look, busy or not; asked during an
//    audit, right after it;
//  * one step at a time, the next only once the last has run; it waits
//    while events are pending, for at most `step_patience` after the last
//    step ended, so that a busy loop still finishes the audit;
//  * an audit none of whose steps has run for one interval and one
//    step_patience (it failed, or the gates are closed) is not waited for;
//    a step that waited its patience has run by then, whatever the
//    interval.
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

	// The audit's steps, in order: the installed entries read again
	// (Engine::ask_reread(), in parts), the local MACs dumped again, the check's
	// decision (Engine::ask_check()) and the repair, which compares it
	// with the incremental state and diffs whole (Engine::ask_repair()).
	enum class Step : std::uint8_t { None, Reread, LocalMacs, Check, Repair };

	AuditSchedule(Config config, TimePoint now) : config_(config), next_(now + config.interval) {}

	// What to do at `now`: start an audit (Reread), run its next step, or
	// nothing (None). `busy`: see busy(), for the start; `events_pending`:
	// inputs wait to be reconciled, for the next step. The caller runs the
	// step and reports it with ran().
	Step next(TimePoint now, bool busy, bool events_pending)
	{
		if (due(now, busy)) {
			started(now);
			return last_ = Step::Reread;
		}
		if (!in_progress() || !last_ran_ || last_ == Step::Repair)
			return Step::None;
		if (events_pending && now - step_end_ < config_.step_patience)
			return Step::None;
		last_ran_ = false;
		return last_ = static_cast<Step>(static_cast<std::uint8_t>(last_) + 1);
	}
	// A part of the step next() gave last ran from `start` to `end`; the
	// step goes on (the re-read, the check and the repair run in parts).
	// Counted in cost() and longest_step().
	void ran_part(TimePoint start, TimePoint end)
	{
		if (!in_progress() || last_ran_)
			return;
		cost_ += end - start;
		longest_ = std::max(longest_, end - start);
		step_end_ = end;
	}
	// The step next() gave last ran from `start` to `end`. After the
	// repair, the audit is done: returns the time from its start to the
	// next one (done()).
	std::optional<Duration> ran(TimePoint start, TimePoint end)
	{
		if (!in_progress() || last_ran_)
			return std::nullopt;
		last_ran_ = true;
		cost_ += end - start;
		longest_ = std::max(longest_, end - start);
		step_end_ = end;
		if (last_ != Step::Repair)
			return std::nullopt;
		return done(cost_);
	}
	// The audit in progress or last done: all its steps took, the longest
	// step (of a step in parts, the longest part).
	Duration cost() const { return cost_; }
	Duration longest_step() const { return longest_; }

	// The first audit one interval after `now` (the end of a start-up).
	void restart(TimePoint now) { next_ = now + config_.interval; }

	// Should an audit start at `now`? `busy`: work is pending, or entries
	// changed within `quiet` (changed()).
	bool due(TimePoint now, bool busy)
	{
		if (!done_ && now - step_end_ > config_.interval + config_.step_patience)
			done_ = true; // its steps stopped
		if (!done_)
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
		step_end_ = now;
		done_ = false;
		asked_ = false;
		last_ran_ = false;
		cost_ = longest_ = Duration::zero();
		next_ = now + config_.interval; // stands if its steps stop
	}
	bool in_progress() const { return !done_; }
	// It is over; `cost`: all its steps took.
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
		next_ = start_ + gap;
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
	TimePoint start_{};
	bool done_ = true; // no audit in progress (none yet, or the last over)
	bool asked_ = false;
	std::optional<TimePoint> last_change_;
	// The audit in progress: the step given last, whether it ran, when the
	// last one ended, and what they took.
	Step last_ = Step::None;
	bool last_ran_ = false;
	TimePoint step_end_{};
	Duration cost_{}, longest_{};
};

} // namespace evpnmon::consumer
